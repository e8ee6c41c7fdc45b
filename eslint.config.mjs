// @ts-check
import js from "@eslint/js";
import fs from "node:fs";
import tseslint from "typescript-eslint";

/** For each service, its file and its domain folder may import only its own domain modules (the gateway's folder is its own too). */
function serviceBoundaries() {
	const domains = fs
		.readdirSync(new URL("./services", import.meta.url), { withFileTypes: true })
		.filter(d => d.isDirectory())
		.map(d => d.name);
	return domains.map(own => {
		const others = domains.filter(d => d !== own);
		return {
			files: [`services/${own}.service.ts`, `services/${own}/**/*.ts`],
			rules: {
				"no-restricted-imports": [
					"error",
					{
						patterns: [
							{
								group: others.flatMap(d => [`./${d}/*`, `../${d}/*`, `./${d}`, `../${d}`]),
								message: "A service reaches another service through the broker, never through its domain modules; shared shapes live in lib/contracts/.",
							},
						],
					},
				],
			},
		};
	});
}

export default tseslint.config(
	{ ignores: ["dist/", "node_modules/", "coverage/", "public/vendor/", "**/*.js", "**/*.mjs"] },
	js.configs.recommended,
	...tseslint.configs.recommendedTypeChecked,
	{
		languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
		rules: {
			"@typescript-eslint/no-explicit-any": "error",
			"@typescript-eslint/no-floating-promises": "error",
			"@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
			"@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
		},
	},
	// Boundaries (DESIGN.md, "Layout"): contracts stand alone, and a service reaches another only through the broker.
	{
		files: ["lib/contracts/**/*.ts"],
		rules: {
			"no-restricted-imports": [
				"error",
				{
					patterns: [
						{
							group: ["**/infra/**", "**/db/**", "**/services/**", "**/mixins/**", "**/middlewares/**"],
							message: "lib/contracts/ holds what services agree on and imports nothing but other contracts.",
						},
					],
				},
			],
		},
	},
	...serviceBoundaries(),
	{
		// A service file reads as its contract, a domain module does one job: past 300 lines, split it.
		files: ["services/**/*.ts"],
		rules: { "max-lines": ["error", { max: 300 }] },
	},
	{
		// Tests and benchmarks poke at internals and at loosely typed answers.
		files: ["test/**/*.ts", "bench/**/*.ts"],
		rules: {
			"@typescript-eslint/no-explicit-any": "off",
			"@typescript-eslint/no-unsafe-assignment": "off",
			"@typescript-eslint/no-unsafe-member-access": "off",
			"@typescript-eslint/no-unsafe-call": "off",
			"@typescript-eslint/no-unsafe-argument": "off",
			"@typescript-eslint/no-unsafe-return": "off",
			"@typescript-eslint/require-await": "off",
			"@typescript-eslint/unbound-method": "off",
		},
	},
);
