// The one-shot `mongo-init` service of docker-compose.yml runs this with mongosh, as the root user:
// it makes the single-member replica set `rs0` (once), waits until that member is primary, then
// makes one user per service database, with readWrite on that database only (data ownership: a
// service reaches no other service's collections), the backup user (role `backup`) and the restore user (`restore`, and the
// `oplogReplay` role for --oplogReplay). Users and
// passwords come from the secrets mounted under /run/secrets: each `mongo_uri_<service>` and
// `mongo_backup_config`, `mongo_restore_config` (made by deploy/make-secrets.sh). Running it again changes nothing but the
// passwords, which it sets to the secrets' (so renewing a secret and rerunning it is a rotation).
const fs = require("fs");
const SECRETS = "/run/secrets";

/** user, password and database of a mongodb:// URI (the password URL-encoded there). */
function credentialsOf(uri) {
	const m = /^mongodb:\/\/([^:@/]+):([^@/]+)@[^/]+\/([^?]*)/.exec(uri.trim());
	if (!m) throw new Error(`not a mongodb://user:password@host/db URI: ${uri.replace(/:[^@/]*@/, ":***@")}`);
	return { user: decodeURIComponent(m[1]), pwd: decodeURIComponent(m[2]), db: m[3] };
}

try {
	rs.status();
} catch (err) {
	if (err.codeName !== "NotYetInitialized") throw err;
	rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
for (let i = 0; !db.hello().isWritablePrimary; i++) {
	if (i > 120) throw new Error("the replica set has no primary after 60 s");
	sleep(500);
}

function ensureUser(dbName, user, pwd, roles) {
	const target = db.getSiblingDB(dbName);
	if (target.getUser(user)) target.updateUser(user, { pwd, roles });
	else target.createUser({ user, pwd, roles });
	print(`user ${user} on ${dbName}: ${JSON.stringify(roles)}`);
}

for (const file of fs.readdirSync(SECRETS).filter(f => f.startsWith("mongo_uri_"))) {
	const { user, pwd, db: dbName } = credentialsOf(fs.readFileSync(`${SECRETS}/${file}`, "utf8"));
	ensureUser(dbName, user, pwd, [{ role: "readWrite", db: dbName }]);
}
const configUri = file => credentialsOf(/^uri:\s*(\S+)/m.exec(fs.readFileSync(`${SECRETS}/${file}`, "utf8"))[1]);
const backup = configUri("mongo_backup_config");
ensureUser("admin", backup.user, backup.pwd, [{ role: "backup", db: "admin" }]);
// mongorestore --oplogReplay (the point in time of a mongodump --oplog) needs anyAction on anyResource, which no built-in role grants.
const admin = db.getSiblingDB("admin");
if (!admin.getRole("oplogReplay")) admin.createRole({ role: "oplogReplay", privileges: [{ resource: { anyResource: true }, actions: ["anyAction"] }], roles: [] });
const restore = configUri("mongo_restore_config");
ensureUser("admin", restore.user, restore.pwd, [
	{ role: "restore", db: "admin" },
	{ role: "oplogReplay", db: "admin" },
]);
