import { spawnSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import YAML from "yaml";
import { SERVICE_NAMES } from "../../lib/contracts/services";
import { ENV_VARIABLES, parseSettings, type Settings } from "../../lib/infra/settings";

/**
 * docker-compose.yml, the Dockerfile and deploy/ read against the code. No
 * Docker engine runs here, so nothing is started: Debian's `docker-compose`
 * (1.29) validates the file without one, and fails this test when it is
 * missing (`.ci/run` installs it).
 */

const ROOT = path.resolve(__dirname, "../..");
const COMPOSE_FILE = path.join(ROOT, "docker-compose.yml");
/** What docker compose takes from the environment or `.env`: the file requires these two. */
const COMPOSE_ENV = { JWT_SECRET: "compose-test-secret-0123456789", ADMIN_PASSWORD: "compose-test-password" };

type Env = Record<string, string>;

interface ComposeService {
	build?: unknown;
	image?: string;
	container_name?: string;
	hostname?: string;
	ports?: unknown[];
	expose?: Array<string | number>;
	environment?: Record<string, unknown> | string[];
	healthcheck?: { test?: unknown; disable?: boolean };
	depends_on?: Record<string, { condition?: string }> | string[];
	volumes?: string[];
	profiles?: string[];
	command?: string | string[];
}

interface ComposeFile {
	services: Record<string, ComposeService>;
}

/** Compose's interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`. */
function interpolate(text: string, env: Env): string {
	return text.replace(
		/\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
		(_match, dollar?: string, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
			if (dollar) return "$";
			if (bare) return env[bare] ?? "";
			const value = env[name!];
			const unset = value === undefined || (colon === ":" && value === "");
			if (op === "-") return unset ? arg! : value;
			if (op === "?" && unset) throw new Error(`${name}: ${arg}`);
			return value ?? "";
		},
	);
}

function interpolateAll(node: unknown, env: Env): unknown {
	if (typeof node === "string") return interpolate(node, env);
	if (Array.isArray(node)) return node.map(item => interpolateAll(item, env));
	if (node && typeof node === "object") return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, env)]));
	return node;
}

/** The file as docker compose reads it: YAML merge keys (`<<: *node`) and interpolation from `env`. */
function readCompose(env: Env = COMPOSE_ENV): ComposeFile {
	return interpolateAll(YAML.parse(fs.readFileSync(COMPOSE_FILE, "utf8"), { merge: true }), env) as ComposeFile;
}

/** A service's environment as the container gets it (map or list form). */
function envOf(svc: ComposeService): Env {
	const entries = Array.isArray(svc.environment) ? svc.environment.map(line => line.split(/=(.*)/s).slice(0, 2)) : Object.entries(svc.environment ?? {});
	return Object.fromEntries(entries.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, String(v)]));
}

function dependsOn(svc: ComposeService): Record<string, { condition?: string }> {
	return Array.isArray(svc.depends_on) ? Object.fromEntries(svc.depends_on.map(name => [name, {}])) : (svc.depends_on ?? {});
}

/** docker-compose with the dummies above and no `.env` of the developer's; throws, saying how to install it, when it is missing. */
function dockerCompose(args: string[], env: Env = COMPOSE_ENV): { status: number | null; stdout: string; stderr: string } {
	const emptyEnvFile = path.join(os.tmpdir(), `compose-spec-${process.pid}.env`);
	fs.writeFileSync(emptyEnvFile, "");
	try {
		const res = spawnSync("docker-compose", ["--env-file", emptyEnvFile, "-f", COMPOSE_FILE, ...args], {
			cwd: ROOT,
			env: { PATH: process.env.PATH, HOME: process.env.HOME ?? os.tmpdir(), ...env },
			encoding: "utf8",
		});
		const error: (Error & { code?: string }) | undefined = res.error;
		if (error?.code === "ENOENT") {
			throw new Error("docker-compose is not installed: `apt-get install -y --no-install-recommends docker-compose` (Debian's, 1.29; .ci/run installs it when missing)");
		}
		if (res.error) throw res.error;
		return { status: res.status, stdout: res.stdout, stderr: res.stderr };
	} finally {
		fs.rmSync(emptyEnvFile, { force: true });
	}
}

/** The final stage of the Dockerfile, instruction by instruction (continuations joined, comments dropped). */
function dockerfileFinalStage(): Array<{ instruction: string; args: string }> {
	const text = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
	const lines = text
		.split("\n")
		.filter(line => !/^\s*#/.test(line))
		.join("\n")
		.replace(/\\\n/g, " ")
		.split("\n")
		.map(line => line.trim())
		.filter(Boolean)
		.map(line => {
			const [, instruction, args] = /^(\S+)\s+(.*)$/.exec(line)!;
			return { instruction: instruction.toUpperCase(), args };
		});
	const lastFrom = lines.map(l => l.instruction).lastIndexOf("FROM");
	return lines.slice(lastFrom);
}

/** The image's ENV (`ENV A=1 B=2` form). */
function imageEnv(): Env {
	return Object.fromEntries(
		dockerfileFinalStage()
			.filter(i => i.instruction === "ENV")
			.flatMap(i => i.args.split(/\s+/).map(pair => pair.split(/=(.*)/s).slice(0, 2))),
	);
}

describe("docker-compose.yml, read against the code", () => {
	const compose = readCompose();
	const services = Object.entries(compose.services);
	/** The shop's own nodes: the services built from this project's Dockerfile. All of them may be scaled. */
	const nodes = services.filter(([, svc]) => svc.build !== undefined);
	/** Each node's settings as the code parses them, in the image's environment overlaid by the compose file's. */
	const settingsOf = (svc: ComposeService): Settings => parseSettings({ ...imageEnv(), ...envOf(svc) });
	const gateway = nodes.find(([, svc]) => settingsOf(svc).services.includes("api"));

	it("is a valid compose file for docker-compose (config -q), which refuses it without JWT_SECRET", () => {
		const valid = dockerCompose(["config", "-q"]);
		expect(valid.stderr).toBe("");
		expect(valid.status).toBe(0);

		const withoutSecret = dockerCompose(["config", "-q"], { ADMIN_PASSWORD: COMPOSE_ENV.ADMIN_PASSWORD });
		expect(withoutSecret.status).not.toBe(0);
		expect(withoutSecret.stderr).toMatch(/JWT_SECRET/);
	});

	it("is read by docker-compose as this test reads it: the same services, environments and published ports", () => {
		const res = dockerCompose(["--profile", "metrics", "config"]);
		expect(res.status).toBe(0);
		const resolved = YAML.parse(res.stdout) as ComposeFile;
		expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(compose.services).sort());
		for (const [name, svc] of services) {
			expect({ name, env: envOf(resolved.services[name]) }).toEqual({ name, env: envOf(svc) });
			expect({ name, published: (resolved.services[name].ports ?? []).length }).toEqual({ name, published: (svc.ports ?? []).length });
			expect({ name, healthcheck: !!resolved.services[name].healthcheck }).toEqual({ name, healthcheck: !!svc.healthcheck });
		}
	});

	it("caps Redis' memory and evicts only keys with a TTL (volatile-lru): old cache versions go, versions and write leases stay", () => {
		const redis = services.find(([, svc]) => svc.image?.startsWith("redis"));
		expect(redis).toBeDefined();
		const command = [redis![1].command ?? []].flat().join(" ");
		expect(command).toMatch(/--maxmemory \d+[kmg]b\b/);
		expect(command).toMatch(/--maxmemory-policy volatile-lru\b/);
	});

	it("runs every service of the code, each SERVICES value naming a service file", () => {
		expect(nodes.length).toBeGreaterThan(0);
		const run = nodes.flatMap(([name, svc]) => {
			const value = envOf(svc).SERVICES;
			expect({ name, SERVICES: value }).toEqual({ name, SERVICES: expect.any(String) });
			return value.split(",");
		});
		for (const service of run) expect(fs.existsSync(path.join(ROOT, "services", `${service}.service.ts`))).toBe(true);
		expect([...new Set(run)].sort()).toEqual([...SERVICE_NAMES].sort());
	});

	it("gives each node an environment the code accepts: every variable set is one the code reads, every one it needs is set or defaulted", () => {
		for (const [name, svc] of nodes) {
			const env = envOf(svc);
			expect({ name, unknown: Object.keys(env).filter(v => !(ENV_VARIABLES as readonly string[]).includes(v)) }).toEqual({ name, unknown: [] });
			// parseSettings throws, naming the variable, for one that is missing or wrong (JWT_SECRET in production among them).
			const s = settingsOf(svc);
			expect({ name, production: s.production, secretGiven: !s.auth.jwtSecretGenerated }).toEqual({ name, production: true, secretGiven: true });
			// Over RabbitMQ and Redis, both services of this file.
			expect({ name, transporter: new URL(s.transporter!).hostname in compose.services, cacher: new URL(s.cacher!).hostname in compose.services }).toEqual({
				name,
				transporter: true,
				cacher: true,
			});
			expect(dependsOn(svc)).toMatchObject({ [new URL(s.transporter!).hostname]: { condition: "service_healthy" }, [new URL(s.cacher!).hostname]: { condition: "service_healthy" } });
		}
		// The first admin is created by the customers node.
		const customers = nodes.find(([, svc]) => settingsOf(svc).services.includes("customers"))!;
		expect(settingsOf(customers[1]).admin).toMatchObject({ email: expect.any(String), password: COMPOSE_ENV.ADMIN_PASSWORD });
	});

	it("has the gateways listen on every address of their container (HOST=0.0.0.0, the image's too), as nginx reaches them from outside; the code's own default is this machine only", () => {
		expect(parseSettings({}).gateway.host).toBe("127.0.0.1");
		expect(imageEnv().HOST).toBe("0.0.0.0");
		const gateways = nodes.filter(([, svc]) => settingsOf(svc).services.includes("api"));
		expect(gateways.length).toBeGreaterThan(0);
		for (const [name, svc] of gateways) expect({ name, host: settingsOf(svc).gateway.host }).toEqual({ name, host: "0.0.0.0" });
	});

	it("lets every node service scale: no container name, hostname, NODE_ID or fixed host port, so each replica is named by its own host", () => {
		for (const [name, svc] of nodes) {
			expect({ name, container_name: svc.container_name, hostname: svc.hostname, NODE_ID: envOf(svc).NODE_ID, ports: svc.ports ?? [] }).toEqual({
				name,
				container_name: undefined,
				hostname: undefined,
				NODE_ID: undefined,
				ports: [],
			});
			// Unset NODE_ID: <host>-<services>-<pid>, the host being the container's own (unique per replica).
			expect(settingsOf(svc).nodeId.startsWith(`${os.hostname().toLowerCase()}-`)).toBe(true);
		}
	});

	it("has a healthcheck for every service: its own, or the image's for the nodes", () => {
		const healthcheck = dockerfileFinalStage().filter(i => i.instruction === "HEALTHCHECK");
		const imageChecks = healthcheck.length === 1 && !/^NONE$/i.test(healthcheck[0].args);
		for (const [name, svc] of services) {
			const own = !!svc.healthcheck?.test && !svc.healthcheck.disable;
			expect({ name, healthcheck: own || (svc.build !== undefined && imageChecks) }).toEqual({ name, healthcheck: true });
		}
	});

	it("gives each service with a store its own MongoDB, shared by its replicas and healthy before it starts", () => {
		const withStore = nodes.filter(([, svc]) => !settingsOf(svc).services.every(s => s === "api"));
		const mongoHosts = withStore.map(([name, svc]) => {
			const uri = settingsOf(svc).storage.mongoUri;
			expect({ name, uri }).toEqual({ name, uri: expect.stringMatching(/^mongodb:\/\//) });
			const host = new URL(uri!).hostname;
			expect({ name, mongo: host in compose.services, nodeService: nodes.some(([n]) => n === host) }).toEqual({ name, mongo: true, nodeService: false });
			expect(dependsOn(svc)[host]).toEqual({ condition: "service_healthy" });
			return host;
		});
		expect(new Set(mongoHosts).size).toBe(withStore.length);
	});

	it("exposes METRICS_PORT on every node (no host port) and has Prometheus scrape each node service there", () => {
		const ports = nodes.map(([name, svc]) => {
			const port = settingsOf(svc).metricsPort;
			expect({ name, port, exposed: (svc.expose ?? []).map(String).includes(String(port)) }).toEqual({ name, port: expect.any(Number), exposed: true });
			return port;
		});
		const prometheus = services.find(([, svc]) => svc.image?.startsWith("prom/prometheus"));
		expect(prometheus).toBeDefined();
		const mount = prometheus![1].volumes!.find(v => v.endsWith(":/etc/prometheus/prometheus.yml:ro"))!;
		const config = YAML.parse(fs.readFileSync(path.resolve(ROOT, mount.split(":")[0]), "utf8")) as {
			scrape_configs: Array<{ dns_sd_configs: Array<{ names: string[]; type: string; port: number }> }>;
		};
		const sd = config.scrape_configs.flatMap(c => c.dns_sd_configs);
		expect(sd.flatMap(c => c.names).sort()).toEqual(nodes.map(([name]) => name).sort());
		for (const c of sd) expect({ type: c.type, port: c.port }).toEqual({ type: "A", port: ports[0] });
		expect(new Set(ports).size).toBe(1);
	});

	it("puts nginx in front of the api replicas, sticky (ip_hash) with WebSocket upgrades, and the gateways trust that one hop", () => {
		expect(gateway).toBeDefined();
		const [gatewayName, gatewaySvc] = gateway!;
		const gatewaySettings = settingsOf(gatewaySvc);
		expect((gatewaySvc.expose ?? []).map(String)).toContain(String(gatewaySettings.gateway.port));

		const nginx = services.find(([, svc]) => svc.image?.startsWith("nginx"));
		expect(nginx).toBeDefined();
		const [, nginxSvc] = nginx!;
		expect(nginxSvc.ports?.length).toBeGreaterThan(0);
		expect(dependsOn(nginxSvc)[gatewayName]).toEqual({ condition: "service_healthy" });
		const mount = nginxSvc.volumes!.find(v => v.includes(":/etc/nginx/"))!;
		const conf = fs.readFileSync(path.resolve(ROOT, mount.split(":")[0]), "utf8").replace(/#.*$/gm, "");

		const upstream = /upstream\s+(\S+)\s*\{([^}]*)\}/.exec(conf);
		expect(upstream).not.toBeNull();
		const [, upstreamName, body] = upstream!;
		expect(body).toMatch(/^\s*ip_hash;/m);
		expect([...body.matchAll(/^\s*server\s+(\S+?)(?:\s[^;]*)?;/gm)].map(m => m[1])).toEqual([`${gatewayName}:${gatewaySettings.gateway.port}`]);
		expect(conf).toMatch(new RegExp(`proxy_pass\\s+http://${upstreamName};`));
		expect(conf).toMatch(/proxy_http_version\s+1\.1;/);
		expect(conf).toMatch(/proxy_set_header\s+Upgrade\s+\$http_upgrade;/);
		expect(conf).toMatch(/proxy_set_header\s+Connection\s+\$connection_upgrade;/);
		// nginx appends the address it saw: exactly one hop for the gateways to trust.
		expect(conf).toMatch(/proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for;/);
		expect(gatewaySettings.gateway.trustProxyHops).toBe(1);
		// Its own healthcheck answers from a location of its own.
		expect(JSON.stringify(nginxSvc.healthcheck?.test)).toContain("/nginx-health");
		expect(conf).toMatch(/location\s*=\s*\/nginx-health/);
	});
});

describe("the image", () => {
	const stage = dockerfileFinalStage();

	it("is built in stages, exposes the gateway and metrics ports, and checks its health with bin/healthcheck.ts and a health file", () => {
		const text = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
		expect((text.match(/^FROM\s/gm) ?? []).length).toBeGreaterThanOrEqual(2);

		const compose = readCompose();
		const nodes = Object.values(compose.services).filter(svc => svc.build !== undefined);
		const exposed = stage.filter(i => i.instruction === "EXPOSE").flatMap(i => i.args.split(/\s+/));
		const wanted = new Set(
			nodes.flatMap(svc => [String(parseSettings(envOf(svc)).metricsPort), ...(envOf(svc).SERVICES.split(",").includes("api") ? [String(parseSettings(envOf(svc)).gateway.port)] : [])]),
		);
		expect(exposed).toEqual(expect.arrayContaining([...wanted]));

		const healthcheck = stage.find(i => i.instruction === "HEALTHCHECK");
		expect(healthcheck?.args).toMatch(/CMD \["node", "dist\/bin\/healthcheck\.js"\]/);
		expect(fs.existsSync(path.join(ROOT, "bin/healthcheck.ts"))).toBe(true);
		// Without a health file the check could only fail: the image names one, and every node keeps it.
		for (const svc of nodes) expect(parseSettings({ ...imageEnv(), ...envOf(svc) }).healthFile).toBe(imageEnv().HEALTH_FILE);
		expect(imageEnv().HEALTH_FILE).toMatch(/^\//);
		expect(stage.find(i => i.instruction === "USER")?.args).toBe("node");
	});

	it("leaves .env, node_modules, data, logs, dist and test-results out of the build context (.dockerignore)", () => {
		const ignored = fs
			.readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
			.split("\n")
			.map(line => line.trim().replace(/\/$/, ""))
			.filter(line => line && !line.startsWith("#"));
		expect(ignored).toEqual(expect.arrayContaining([".env", "node_modules", "data", "logs", "dist", "test-results"]));
		// .env.example is documentation, not a secret; nothing re-includes .env itself.
		expect(ignored).not.toContain("!.env");
	});
});
