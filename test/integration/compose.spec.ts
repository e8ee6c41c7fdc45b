import { spawnSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import YAML from "yaml";
import { SERVICE_NAMES } from "../../lib/contracts/services";
import { ENV_VARIABLES, parseSettings, SECRET_VARIABLES, type Settings } from "../../lib/infra/settings";

/**
 * docker-compose.yml, the Dockerfile and deploy/ read against the code. No
 * Docker engine runs here, so nothing is started: Debian's `docker-compose`
 * (1.29) validates the file without one, and fails this test when it is
 * missing (`.ci/run` installs it).
 */

const ROOT = path.resolve(__dirname, "../..");
const COMPOSE_FILE = path.join(ROOT, "docker-compose.yml");
/** The secrets, made by the operator's script (deploy/make-secrets.sh) as an operator would, in a directory of this test's. */
const SECRETS_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "compose-secrets-"));
const makeSecrets = () => spawnSync("sh", [path.join(ROOT, "deploy/make-secrets.sh"), SECRETS_DIR], { encoding: "utf8" });
/** What docker compose takes from the environment or `.env`: where the secrets are. */
const COMPOSE_ENV = { SECRETS_DIR };
afterAll(() => fs.rmSync(SECRETS_DIR, { recursive: true, force: true }));

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
	entrypoint?: string | string[];
	restart?: string;
	secrets?: Array<string | { source: string; target?: string }>;
	deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
}

interface ComposeFile {
	services: Record<string, ComposeService>;
	secrets?: Record<string, { file?: string }>;
	volumes?: Record<string, unknown>;
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

/** Where a service's container finds each secret it mounts (/run/secrets/<name> unless a target says otherwise), and the host file behind it. */
function mountedSecrets(compose: ComposeFile, svc: ComposeService): Map<string, string> {
	const out = new Map<string, string>();
	for (const entry of svc.secrets ?? []) {
		const { source, target } = typeof entry === "string" ? { source: entry, target: undefined } : entry;
		const file = compose.secrets?.[source]?.file;
		expect({ source, file }).toEqual({ source, file: expect.any(String) });
		out.set(target?.startsWith("/") ? target : `/run/secrets/${target ?? source}`, path.resolve(ROOT, file!));
	}
	return out;
}

/** A node's environment with each X_FILE pointing at the host file of the secret the container would read there. */
function withHostSecretFiles(compose: ComposeFile, svc: ComposeService, env: Env): Env {
	const mounted = mountedSecrets(compose, svc);
	return Object.fromEntries(
		Object.entries(env).map(([k, v]) => {
			if (!k.endsWith("_FILE") || !SECRET_VARIABLES.some(name => `${name}_FILE` === k)) return [k, v];
			expect({ variable: k, mounted: mounted.has(v) }).toEqual({ variable: k, mounted: true });
			return [k, mounted.get(v)!];
		}),
	);
}

const secretText = (name: string) => fs.readFileSync(path.join(SECRETS_DIR, name), "utf8").trim();

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
	const made = makeSecrets();
	const compose = readCompose();
	const services = Object.entries(compose.services);
	/** The shop's own nodes: the services built from this project's Dockerfile. All of them may be scaled. */
	const nodes = services.filter(([, svc]) => svc.build !== undefined);
	/** Each node's settings as the code parses them, in the image's environment overlaid by the compose file's. */
	const settingsOf = (svc: ComposeService): Settings => parseSettings(withHostSecretFiles(compose, svc, { ...imageEnv(), ...envOf(svc) }));
	const gateway = nodes.find(([, svc]) => settingsOf(svc).services.includes("api"));

	it("is a valid compose file for docker-compose (config -q)", () => {
		const valid = dockerCompose(["config", "-q"]);
		expect(valid.stderr).toBe("");
		expect(valid.status).toBe(0);
	});

	it("keeps every secret out of every environment: each is a Docker secret (X_FILE) that deploy/make-secrets.sh makes, and a second run keeps", () => {
		expect(made.status).toBe(0);
		for (const [name, secret] of Object.entries(compose.secrets ?? {})) expect({ name, exists: fs.existsSync(path.resolve(ROOT, secret.file!)) }).toEqual({ name, exists: true });
		for (const [name, svc] of services) {
			const env = envOf(svc);
			expect({ name, plain: SECRET_VARIABLES.filter(v => v in env) }).toEqual({ name, plain: [] });
			expect({ name, inline: Object.entries(env).filter(([k, v]) => /PASS|SECRET|_URI$/.test(k) && !k.endsWith("_FILE") && !v.startsWith("/run/secrets/")) }).toEqual({ name, inline: [] });
		}
		const before = Object.fromEntries(fs.readdirSync(SECRETS_DIR).map(f => [f, secretText(f)]));
		expect(makeSecrets().status).toBe(0);
		expect(Object.fromEntries(fs.readdirSync(SECRETS_DIR).map(f => [f, secretText(f)]))).toEqual(before);
		// Readable only by their owner on the host (the directory), by the containers' users inside (the files).
		expect(fs.statSync(SECRETS_DIR).mode & 0o077).toBe(0);
		// Never committed: the default directories are ignored, and no tracked file holds a private key.
		const ignored = fs.readFileSync(path.join(ROOT, ".gitignore"), "utf8").split("\n");
		expect(ignored).toEqual(expect.arrayContaining(["deploy/secrets/", "deploy/certs/", "backups/"]));
		const keys = spawnSync("git", ["grep", "-l", "-E", "BEGIN ([A-Z]+ )?PRIVATE KEY"], { cwd: ROOT, encoding: "utf8" });
		expect(keys.stdout).toBe("");
	});

	it("is read by docker-compose as this test reads it: the same services, environments and published ports", () => {
		const res = dockerCompose(["--profile", "metrics", "--profile", "backup", "--profile", "dev", "config"]);
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
		expect(settingsOf(customers[1]).admin).toMatchObject({ email: expect.any(String), password: secretText("admin_password") });
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

	it("has a healthcheck for every service that keeps running: its own, or the image's for the nodes (one-shot jobs have none)", () => {
		const healthcheck = dockerfileFinalStage().filter(i => i.instruction === "HEALTHCHECK");
		const imageChecks = healthcheck.length === 1 && !/^NONE$/i.test(healthcheck[0].args);
		for (const [name, svc] of services.filter(([, svc]) => svc.restart !== "no")) {
			const own = !!svc.healthcheck?.test && !svc.healthcheck.disable;
			expect({ name, healthcheck: own || (svc.build !== undefined && imageChecks) }).toEqual({ name, healthcheck: true });
		}
	});

	it("keeps each service's data in a database of its own, with a user of its own, on one MongoDB replica set with keyFile authentication", () => {
		const withStore = nodes.filter(([, svc]) => !settingsOf(svc).services.every(s => s === "api"));
		expect(withStore.length).toBeGreaterThan(0);
		const mongods = services.filter(([, svc]) => svc.image?.startsWith("mongo") && !svc.profiles && svc.restart !== "no");
		expect(mongods.map(([name]) => name)).toEqual(["mongo"]);
		const [mongoName, mongo] = mongods[0];
		const command = [mongo.command ?? []].flat().join(" ");
		expect(command).toMatch(/--replSet rs0\b/);
		expect(command).toMatch(/--keyFile \S+/);
		expect(mongo.hostname).toBe(mongoName);
		expect(envOf(mongo)).toMatchObject({ MONGO_INITDB_ROOT_USERNAME: expect.any(String), MONGO_INITDB_ROOT_PASSWORD_FILE: expect.stringMatching(/^\/run\/secrets\//) });
		expect(mongo.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/^mongo:\/data\/db$/)]));
		// The one-shot init (rs.initiate, the users) runs once MongoDB answers, and holds every service's URI to make its user.
		const init = compose.services["mongo-init"];
		expect(dependsOn(init)[mongoName]).toEqual({ condition: "service_healthy" });
		expect(init.restart).toBe("no");
		const initSecrets = [...mountedSecrets(compose, init).values()];
		const script = fs.readFileSync(path.join(ROOT, "deploy/mongo/init-replica-set.js"), "utf8");
		expect(script).toMatch(/rs\.initiate\(\{ _id: "rs0", members: \[\{ _id: 0, host: "mongo:27017" \}\] \}\)/);

		const seen = withStore.map(([name, svc]) => {
			const uri = new URL(settingsOf(svc).storage.mongoUri!);
			const database = uri.pathname.slice(1);
			expect({ name, host: uri.host, replicaSet: uri.searchParams.get("replicaSet"), authSource: uri.searchParams.get("authSource"), user: !!uri.username, password: !!uri.password }).toEqual({
				name,
				host: `${mongoName}:27017`,
				replicaSet: "rs0",
				authSource: database,
				user: true,
				password: true,
			});
			expect(dependsOn(svc)["mongo-init"]).toEqual({ condition: "service_completed_successfully" });
			expect({ name, initKnowsItsUser: initSecrets.includes(mountedSecrets(compose, svc).get(envOf(svc).MONGO_URI_FILE)!) }).toEqual({ name, initKnowsItsUser: true });
			return { database, user: uri.username };
		});
		expect(new Set(seen.map(s => s.database)).size).toBe(withStore.length);
		expect(new Set(seen.map(s => s.user)).size).toBe(withStore.length);
	});

	it("gives RabbitMQ a fixed hostname (its node name names its data) and a volume, and the shop's own user, the one the nodes' TRANSPORTER names", () => {
		const [, rabbit] = services.find(([, svc]) => svc.image?.startsWith("rabbitmq"))!;
		expect(rabbit.hostname).toBe("rabbitmq");
		expect(rabbit.volumes).toEqual(expect.arrayContaining(["rabbitmq:/var/lib/rabbitmq"]));
		expect(compose.volumes).toHaveProperty("rabbitmq");
		const conf = [...mountedSecrets(compose, rabbit).entries()].find(([target]) => target.startsWith("/etc/rabbitmq/conf.d/"));
		expect(conf).toBeDefined();
		const text = fs.readFileSync(conf![1], "utf8");
		for (const [, svc] of nodes) {
			const uri = new URL(settingsOf(svc).transporter!);
			expect(uri.username).not.toBe("guest");
			expect(text).toContain(`default_user = ${uri.username}\n`);
			expect(text).toContain(`default_pass = ${uri.password}\n`);
		}
	});

	it("has Redis refuse anyone without the shop's user and password (ACL file), the ones the nodes' CACHER names", () => {
		const [, redis] = services.find(([, svc]) => svc.image?.startsWith("redis"))!;
		const command = [redis.command ?? []].flat().join(" ");
		const aclTarget = /--aclfile (\S+)/.exec(command)?.[1];
		const acl = fs.readFileSync(mountedSecrets(compose, redis).get(aclTarget!)!, "utf8");
		expect(acl).toMatch(/^user default off$/m);
		for (const [, svc] of nodes) {
			const uri = new URL(settingsOf(svc).cacher!);
			expect(acl).toContain(`user ${uri.username} on >${uri.password} `);
		}
	});

	it("limits the CPU and memory of every service", () => {
		for (const [name, svc] of services) {
			expect({ name, limits: svc.deploy?.resources?.limits }).toEqual({ name, limits: { cpus: expect.stringMatching(/^\d+(\.\d+)?$/), memory: expect.stringMatching(/^\d+[MG]$/) } });
		}
	});

	it("backs up every database with a mongodump job (profile backup): one consistent archive (--oplog) into a mounted directory, old ones removed; a restore job replays one", () => {
		const backup = compose.services["mongo-backup"];
		expect(backup.profiles).toEqual(["backup"]);
		expect(backup.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/:\/backup$/)]));
		const script = fs.readFileSync(path.join(ROOT, "deploy/mongo/backup.sh"), "utf8");
		expect(script).toMatch(/^mongodump --config \/run\/secrets\/mongo_backup_config --oplog --gzip --archive=/m);
		expect(mountedSecrets(compose, backup).has("/run/secrets/mongo_backup_config")).toBe(true);
		expect(script).toMatch(/-mtime \+/);

		// The restore replays the archive's oplog (the same point in time), from the same directory, as a user the init makes.
		const restore = compose.services["mongo-restore"];
		expect(restore.profiles).toEqual(["restore"]);
		expect(restore.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/:\/backup:ro$/)]));
		expect(restore.volumes!.find(v => v.endsWith(":/backup:ro"))!.split(":")[0]).toBe(backup.volumes!.find(v => v.endsWith(":/backup"))!.split(":")[0]);
		expect(fs.readFileSync(path.join(ROOT, "deploy/mongo/restore.sh"), "utf8")).toMatch(
			/^mongorestore --config \/run\/secrets\/mongo_restore_config --archive="\$ARCHIVE" --gzip --oplogReplay --drop$/m,
		);
		const init = compose.services["mongo-init"];
		for (const name of ["mongo_backup_config", "mongo_restore_config"]) expect(mountedSecrets(compose, init).has(`/run/secrets/${name}`)).toBe(true);
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
		// It follows a scale: Docker's DNS asked again (resolver 127.0.0.11 and `resolve`, which needs a shared zone and nginx 1.27.3+).
		expect(conf).toMatch(/^\s*resolver\s+127\.0\.0\.11\b[^;]*\bvalid=\d+s/m);
		expect(body).toMatch(/^\s*zone\s+\S+\s+\d+k;/m);
		expect(body).toMatch(/^\s*server\s+\S+\s+resolve;/m);
		const [major, minor, patch] = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?/
			.exec(nginxSvc.image!)!
			.slice(1)
			.map(n => Number(n ?? 0));
		expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(1_027_003);
		// Its own healthcheck answers from a location of its own.
		expect(JSON.stringify(nginxSvc.healthcheck?.test)).toContain("/nginx-health");
		expect(conf).toMatch(/location\s*=\s*\/nginx-health/);
	});
});

describe("TLS at nginx", () => {
	const compose = readCompose();
	const nginx = compose.services.nginx;
	const conf = fs.readFileSync(path.join(ROOT, "deploy/nginx.conf"), "utf8").replace(/#.*$/gm, "");
	const certs = fs.mkdtempSync(path.join(os.tmpdir(), "compose-certs-"));
	afterAll(() => fs.rmSync(certs, { recursive: true, force: true }));

	it("serves HTTPS on 443 with the certificates mounted from TLS_CERT_DIR, and redirects plain HTTP", () => {
		expect(nginx.ports).toEqual(expect.arrayContaining([expect.stringMatching(/:443$/), expect.stringMatching(/:80$/)]));
		const mount = nginx.volumes!.find(v => v.endsWith(":/etc/nginx/certs:ro"));
		expect(mount).toBe("./deploy/certs:/etc/nginx/certs:ro");
		expect(readCompose({ ...COMPOSE_ENV, TLS_CERT_DIR: "/etc/letsencrypt/live/shop" }).services.nginx.volumes).toContain("/etc/letsencrypt/live/shop:/etc/nginx/certs:ro");
		expect(conf).toMatch(/listen\s+443\s+ssl;/);
		expect(conf).toMatch(/ssl_certificate\s+\/etc\/nginx\/certs\/fullchain\.pem;/);
		expect(conf).toMatch(/ssl_certificate_key\s+\/etc\/nginx\/certs\/privkey\.pem;/);
		expect(conf).toMatch(/return\s+301\s+https:\/\/\$host\$request_uri;/);
	});

	it("has a development profile whose script makes a self-signed pair for localhost, where nginx reads it, and keeps it on a second run", () => {
		const dev = compose.services["dev-certs"];
		expect(dev.profiles).toEqual(["dev"]);
		expect(dev.volumes).toEqual(expect.arrayContaining(["./deploy/certs:/certs"]));
		const run = spawnSync("sh", [path.join(ROOT, "deploy/dev-certs.sh"), certs], { encoding: "utf8" });
		expect(run.status).toBe(0);
		const cert = spawnSync("openssl", ["x509", "-in", path.join(certs, "fullchain.pem"), "-noout", "-subject", "-ext", "subjectAltName"], { encoding: "utf8" });
		expect(cert.stdout).toMatch(/CN\s*=\s*localhost/);
		expect(cert.stdout).toMatch(/DNS:localhost/);
		// The key is the certificate's.
		const pub = (args: string[]) => spawnSync("openssl", args, { encoding: "utf8" }).stdout;
		expect(pub(["pkey", "-in", path.join(certs, "privkey.pem"), "-pubout"])).toBe(pub(["x509", "-in", path.join(certs, "fullchain.pem"), "-noout", "-pubkey"]));
		const first = fs.readFileSync(path.join(certs, "fullchain.pem"), "utf8");
		expect(spawnSync("sh", [path.join(ROOT, "deploy/dev-certs.sh"), certs]).status).toBe(0);
		expect(fs.readFileSync(path.join(certs, "fullchain.pem"), "utf8")).toBe(first);
	});
});

describe("the image", () => {
	const stage = dockerfileFinalStage();

	it("is built in stages, exposes the gateway and metrics ports, and checks its health with bin/healthcheck.ts and a health file", () => {
		const text = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
		expect((text.match(/^FROM\s/gm) ?? []).length).toBeGreaterThanOrEqual(2);

		makeSecrets();
		const compose = readCompose();
		const nodes = Object.values(compose.services).filter(svc => svc.build !== undefined);
		const parsed = (svc: ComposeService) => parseSettings(withHostSecretFiles(compose, svc, envOf(svc)));
		const exposed = stage.filter(i => i.instruction === "EXPOSE").flatMap(i => i.args.split(/\s+/));
		const wanted = new Set(nodes.flatMap(svc => [String(parsed(svc).metricsPort), ...(envOf(svc).SERVICES.split(",").includes("api") ? [String(parsed(svc).gateway.port)] : [])]));
		expect(exposed).toEqual(expect.arrayContaining([...wanted]));

		const healthcheck = stage.find(i => i.instruction === "HEALTHCHECK");
		expect(healthcheck?.args).toMatch(/CMD \["node", "dist\/bin\/healthcheck\.js"\]/);
		expect(fs.existsSync(path.join(ROOT, "bin/healthcheck.ts"))).toBe(true);
		// Without a health file the check could only fail: the image names one, and every node keeps it.
		for (const svc of nodes) expect(parseSettings(withHostSecretFiles(compose, svc, { ...imageEnv(), ...envOf(svc) })).healthFile).toBe(imageEnv().HEALTH_FILE);
		expect(imageEnv().HEALTH_FILE).toMatch(/^\//);
		expect(stage.find(i => i.instruction === "USER")?.args).toBe("node");
	});

	it("holds every file a node reads at run time: started from only what the final stage copies, the notifications node finds its mail templates", () => {
		const image = fs.mkdtempSync(path.join(os.tmpdir(), "image-"));
		try {
			for (const { args } of stage.filter(i => i.instruction === "COPY")) {
				const [src, dest] = args.replace(/--\S+\s+/g, "").split(/\s+/);
				const target = dest.endsWith("/") ? path.join(image, dest, path.basename(src)) : path.resolve(image, dest);
				// node_modules is linked, not copied: the image's is the build's, pruned.
				if (src.endsWith("node_modules")) fs.symlinkSync(path.join(ROOT, "node_modules"), target);
				else fs.cpSync(path.join(ROOT, src.replace(/^\/app\/?/, "")), target, { recursive: true });
			}
			const run = spawnSync(process.execPath, ["-e", 'new (require("./dist/services/notifications/mailer").Templates)(); console.log("templates found")'], { cwd: image, encoding: "utf8" });
			expect(run.stderr).toBe("");
			expect(run.stdout).toContain("templates found");
		} finally {
			fs.rmSync(image, { recursive: true, force: true });
		}
	});

	it("leaves .env, node_modules, data, logs, dist, test-results, the secrets, certificates and backups out of the build context (.dockerignore)", () => {
		const ignored = fs
			.readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
			.split("\n")
			.map(line => line.trim().replace(/\/$/, ""))
			.filter(line => line && !line.startsWith("#"));
		expect(ignored).toEqual(expect.arrayContaining([".env", "node_modules", "data", "logs", "dist", "test-results", "deploy/secrets", "deploy/certs", "backups"]));
		// .env.example is documentation, not a secret; nothing re-includes .env itself.
		expect(ignored).not.toContain("!.env");
	});
});
