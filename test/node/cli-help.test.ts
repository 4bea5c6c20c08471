import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli.js";

let dir: string;
const savedUrl = process.env.DATABASE_URL;
beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-cli-help-"));
	process.env.DATABASE_URL = `file:${join(dir, "cli.db")}`;
});
afterAll(() => {
	if (savedUrl === undefined) delete process.env.DATABASE_URL;
	else process.env.DATABASE_URL = savedUrl;
	rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<string[]> {
	const lines: string[] = [];
	await runCli(args, (line) => lines.push(...line.split("\n")));
	return lines;
}

const COMMANDS = [
	["org", "create"],
	["org", "list"],
	["key", "create"],
	["key", "list"],
	["key", "revoke"],
	["user", "create"],
	["queue", "dead-letters"],
	["queue", "replay"],
	["migrate"],
	["jwt", "keygen"],
	["help"],
];

describe("CLI help", () => {
	it("`help` and no command list every command, with no contract references", async () => {
		const help = (await cli("help")).join("\n");
		expect(await cli()).toEqual(help.split("\n"));
		for (const command of COMMANDS) expect(help).toContain(`  ${command.join(" ")}`);
		expect(help).not.toMatch(/contract|§/i);
	});

	it("`<command> --help` and `help <command>` print that command's usage and options", async () => {
		for (const command of COMMANDS.filter(([name]) => name !== "help")) {
			const help = (await cli(...command, "--help")).join("\n");
			expect(help, command.join(" ")).toMatch(
				new RegExp(`^Usage: npm run --silent hexcovery -- ${command.join(" ")}`),
			);
			expect(help).not.toMatch(/contract|§/i);
			expect((await cli("help", ...command)).join("\n")).toBe(help);
		}
		const keyCreate = (await cli("key", "create", "-h")).join("\n");
		for (const option of ["--org <org_id>", "--name <name>", "--expires-in-days <n>"]) {
			expect(keyCreate).toContain(option);
		}
		// A group lists its commands.
		const key = (await cli("key", "--help")).join("\n");
		for (const action of ["create", "list", "revoke"]) expect(key).toContain(`hexcovery -- key ${action}`);
		await expect(cli("help", "bogus")).rejects.toThrow(/unknown command "bogus"/);
	});

	it("`org list` prints one line per org, and `key create` names the org the key belongs to", async () => {
		const acme = (await cli("org", "create", "Acme")).at(-1) as string;
		const globex = (await cli("org", "create", "Globex", "Corp")).at(-1) as string;
		expect(await cli("org", "list")).toEqual([`${acme} Acme`, `${globex} Globex Corp`]);
		const created = await cli("key", "create", "--org", globex, "--name", "ci");
		expect(created[0]).toMatch(new RegExp(`for ${globex} "Globex Corp"; the key is shown once:$`));
	});
});
