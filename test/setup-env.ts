// Unit tests keep nothing on disk and hash fast; integration tests set their own env per process.
process.env.DATA_DIR ??= ":memory:";
process.env.BCRYPT_ROUNDS ??= "4";
process.env.JWT_SECRET ??= "unit-test-secret";
delete process.env.TRANSPORTER;
delete process.env.CACHER;
delete process.env.MONGO_URI;
delete process.env.ADMIN_EMAIL;
delete process.env.ADMIN_PASSWORD;
