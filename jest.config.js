/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: "node",
	roots: ["<rootDir>/test"],
	testMatch: ["**/*.spec.ts"],
	transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
	testTimeout: 60000,
	setupFiles: ["<rootDir>/test/setup-env.ts"],
	globalTeardown: "<rootDir>/test/global-teardown.ts",
};
