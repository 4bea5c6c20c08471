/**
 * Part of `npm run lint`: lints the OpenAPI document the app serves with Redocly CLI (rules in
 * redocly.yaml). The document is built in-process and written to dist/openapi.json, so this needs
 * no server and no network (Redocly's telemetry and update check are turned off). Any error or
 * warning fails it; accepted exceptions live in .redocly.lint-ignore.yaml, each with its reason.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openApiDocument } from "./openapi-document.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Relative to the repository: .redocly.lint-ignore.yaml names the document by this path. */
const DOCUMENT = "dist/openapi.json";

interface LintReport {
	totals: { errors: number; warnings: number; ignored: number };
	problems: { ruleId: string; severity: string; message: string; location: { pointer?: string }[] }[];
}

mkdirSync(join(ROOT, "dist"), { recursive: true });
writeFileSync(join(ROOT, DOCUMENT), `${JSON.stringify(await openApiDocument(), null, 2)}\n`);
const run = spawnSync(join(ROOT, "node_modules", ".bin", "redocly"), ["lint", DOCUMENT, "--format=json"], {
	cwd: ROOT,
	encoding: "utf8",
	env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
});
let report: LintReport;
try {
	report = JSON.parse(run.stdout) as LintReport;
} catch {
	console.error(
		`redocly lint did not answer with a report (exit ${run.status}):\n${run.stdout}${run.stderr}`,
	);
	process.exit(1);
}
const { errors, warnings, ignored } = report.totals;
if (errors + warnings > 0) {
	for (const problem of report.problems) {
		const where = problem.location[0]?.pointer ?? "";
		console.error(`${problem.severity} ${problem.ruleId} ${where}: ${problem.message}`);
	}
	console.error(`OpenAPI lint: ${errors} errors, ${warnings} warnings in ${DOCUMENT} (rules: redocly.yaml)`);
	process.exit(1);
}
console.log(`OpenAPI lint: clean (${ignored} accepted in .redocly.lint-ignore.yaml)`);
