import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPasswordPolicy, verifyPassword } from "../../src/auth/password.js";

const run = promisify(execFile);
const TSX = join(process.cwd(), "node_modules/.bin/tsx");
let dir: string;
let env: NodeJS.ProcessEnv;
let orgId: string;

async function cli(...args: string[]): Promise<string[]> {
	const { stdout } = await run(TSX, ["src/cli.ts", ...args], { env });
	return stdout.trimEnd().split("\n");
}

async function cliFailure(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
	try {
		await run(TSX, ["src/cli.ts", ...args], { env });
	} catch (error) {
		return error as { code: number; stdout: string; stderr: string };
	}
	throw new Error("the command succeeded");
}

async function storedUser(email: string) {
	const db = createClient({ url: env.DATABASE_URL as string });
	try {
		const result = await db.execute({
			sql: "SELECT id, org_id, email, name, role, password_hash, must_change_password FROM users WHERE email = ?",
			args: [email],
		});
		return result.rows[0] as unknown as
			| {
					id: string;
					org_id: string;
					email: string;
					name: string;
					role: string;
					password_hash: string;
					must_change_password: number;
			  }
			| undefined;
	} finally {
		db.close();
	}
}

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-cli-user-"));
	env = { ...process.env, DATABASE_URL: `file:${join(dir, "hexcovery.db")}`, DATA_DIR: join(dir, "data") };
	orgId = (await cli("org", "create", "Acme")).at(-1) as string;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("CLI user create", () => {
	it("without --password prints a one-time password as the last line and requires a change", async () => {
		const lines = await cli(
			"user",
			"create",
			"--org",
			orgId,
			"--email",
			"Ada@Example.com",
			"--role",
			"owner",
		);
		const password = lines.at(-1) as string;
		expect(password.length).toBeGreaterThanOrEqual(20);
		expect(checkPasswordPolicy(password)).toBeNull();
		const user = await storedUser("ada@example.com");
		expect(user).toMatchObject({ org_id: orgId, role: "owner", name: "ada", must_change_password: 1 });
		expect(user?.id).toMatch(/^usr_/);
		expect(lines.join("\n")).toContain(user?.id as string);
		expect((await verifyPassword(password, user?.password_hash as string)).ok).toBe(true);
		expect(user?.password_hash).not.toContain(password);
	});

	it("with --password checks the policy, keeps the password and prints the user id last", async () => {
		const chosen = "a-long-and-unusual-passphrase-42";
		const lines = await cli(
			"user",
			"create",
			"--org",
			orgId,
			"--email",
			"grace@example.com",
			"--role",
			"viewer",
			"--name",
			"Grace Hopper",
			"--password",
			chosen,
		);
		const user = await storedUser("grace@example.com");
		expect(lines.at(-1)).toBe(user?.id);
		expect(lines.join("\n")).not.toContain(chosen);
		expect(user).toMatchObject({ role: "viewer", name: "Grace Hopper", must_change_password: 0 });
		expect((await verifyPassword(chosen, user?.password_hash as string)).ok).toBe(true);
	});

	it("refuses weak passwords, bad roles and emails, unknown orgs and taken emails", async () => {
		const base = ["user", "create", "--org", orgId, "--role", "member"];
		const weak = await cliFailure(...base, "--email", "weak@example.com", "--password", "password123");
		expect(weak.code).toBe(64);
		expect(weak.stderr).toContain("--password");
		expect(await storedUser("weak@example.com")).toBeUndefined();

		const short = await cliFailure(...base, "--email", "short@example.com", "--password", "Xy7!short");
		expect(short.code).toBe(64);
		expect(short.stderr).toContain("at least 12");

		const role = await cliFailure(
			"user",
			"create",
			"--org",
			orgId,
			"--email",
			"r@example.com",
			"--role",
			"root",
		);
		expect(role.code).toBe(64);
		expect(role.stderr).toContain("--role");

		const email = await cliFailure(...base, "--email", "not-an-email");
		expect(email.code).toBe(64);
		expect(email.stderr).toContain("not-an-email");

		const missing = await cliFailure("user", "create", "--email", "m@example.com", "--role", "member");
		expect(missing.stderr).toContain("--org");

		const org = await cliFailure(
			"user",
			"create",
			"--org",
			"org_missing",
			"--email",
			"o@example.com",
			"--role",
			"member",
		);
		expect(org.stderr).toContain("org_missing");
		expect(await storedUser("o@example.com")).toBeUndefined();

		const taken = await cliFailure(...base, "--email", "ADA@example.com");
		expect(taken.code).toBe(64);
		expect(taken.stderr).toContain("already exists");
		expect(taken.stdout).toBe("");
	});

	it("an address with an account in another org gets a new, independent account there", async () => {
		const otherOrg = (await cli("org", "create", "Globex")).at(-1) as string;
		const chosen = "globex-own-passphrase-for-grace";
		const lines = await cli(
			"user",
			"create",
			"--org",
			otherOrg,
			"--email",
			"Grace@Example.com",
			"--role",
			"admin",
			"--password",
			chosen,
		);
		const db = createClient({ url: env.DATABASE_URL as string });
		try {
			const { rows } = await db.execute({
				sql: "SELECT id, org_id, role, password_hash FROM users WHERE email = 'grace@example.com' ORDER BY created_at, id",
				args: [],
			});
			const byOrg = new Map(rows.map((row) => [row.org_id as string, row]));
			expect([...byOrg.keys()].sort()).toEqual([orgId, otherOrg].sort());
			const globex = byOrg.get(otherOrg);
			expect(lines.at(-1)).toBe(globex?.id);
			expect(globex?.role).toBe("admin");
			expect((await verifyPassword(chosen, globex?.password_hash as string)).ok).toBe(true);
			// The Acme account keeps its role and its password.
			const acme = byOrg.get(orgId);
			expect(acme?.role).toBe("viewer");
			expect((await verifyPassword(chosen, acme?.password_hash as string)).ok).toBe(false);
		} finally {
			db.close();
		}
		const again = await cliFailure(
			"user",
			"create",
			"--org",
			otherOrg,
			"--email",
			"grace@example.com",
			"--role",
			"member",
		);
		expect(again.code).toBe(64);
		expect(again.stderr).toContain(`already exists in ${otherOrg}`);
	});
});

describe("the org's limits in the CLI", () => {
	it("user create and key create stop at ORG_MAX_USERS and ORG_MAX_API_KEYS, saying so", async () => {
		const full = (await cli("org", "create", "Small")).at(-1) as string;
		const limited = { ...env, ORG_MAX_USERS: "1", ORG_MAX_API_KEYS: "1" };
		const attempt = async (...args: string[]) => {
			try {
				await run(TSX, ["src/cli.ts", ...args], { env: limited });
				return { code: 0, stderr: "" };
			} catch (error) {
				return error as { code: number; stderr: string };
			}
		};
		const user = ["user", "create", "--org", full, "--role", "viewer", "--email"];
		expect((await attempt(...user, "one@example.com")).code).toBe(0);
		const second = await attempt(...user, "two@example.com");
		expect(second.code).toBe(1);
		expect(second.stderr).toContain("at most 1 users (ORG_MAX_USERS)");
		expect(await storedUser("two@example.com")).toBeUndefined();
		expect((await attempt("key", "create", "--org", full, "--name", "a")).code).toBe(0);
		const key = await attempt("key", "create", "--org", full, "--name", "b");
		expect(key.code).toBe(1);
		expect(key.stderr).toContain("(ORG_MAX_API_KEYS)");
	});
});
