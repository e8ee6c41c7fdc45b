import { spawnSync } from "child_process";
import path from "path";
import { testMongoUri } from "../helpers/mongo";

/** `npm run test:mongo`: the integration suites against MONGO_URI, each test node in a database of its own. */
describe("npm run test:mongo", () => {
	it("gives each test node (each data directory) its own database on the given server, keeping the user, password and options", () => {
		const base = "mongodb://tester:s3cret@db.example:27017/?replicaSet=rs0&authSource=admin";
		const a = new URL(testMongoUri("/tmp/shop-it-1/orders", base)!);
		const b = new URL(testMongoUri("/tmp/shop-it-1/products", base)!);
		expect({ user: a.username, password: a.password, host: a.host, replicaSet: a.searchParams.get("replicaSet"), authSource: a.searchParams.get("authSource") }).toEqual({
			user: "tester",
			password: "s3cret",
			host: "db.example:27017",
			replicaSet: "rs0",
			authSource: "admin",
		});
		expect(a.pathname).toMatch(/^\/shoptest_[0-9a-f]{24}$/);
		expect(b.pathname).not.toBe(a.pathname);
		// A restarted node finds its data.
		expect(testMongoUri("/tmp/shop-it-1/orders", base)).toBe(a.toString());
		expect(testMongoUri("/tmp/x", "")).toBeUndefined();
	});

	it("refuses to run without a MongoDB URI, saying what to set (CI here has no MongoDB server)", () => {
		const script = path.resolve(__dirname, "../../bin/test-mongo.ts");
		const res = spawnSync(process.execPath, ["--import", "tsx", script], { env: { PATH: process.env.PATH }, encoding: "utf8" });
		expect(res.status).toBe(2);
		expect(res.stderr).toContain("npm run test:mongo runs the integration suites against a MongoDB: set MONGO_URI");
	});
});
