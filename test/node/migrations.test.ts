/**
 * Data migrations: a database made by an earlier version keeps its data's meaning. Here the move
 * of dashboards from 12 to 24 grid columns (drizzle/0007_grid_24.sql): a dashboard saved before it
 * migrates to the same places on screen, served by the API as valid 24-column layouts.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS_FOLDER, openMigratedDatabase } from "../../src/db/node.js";

const dir = mkdtempSync(join(tmpdir(), "hexcovery-migrations-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The migrations folder as it was up to (and including) `lastTag`. */
function migrationsUpTo(lastTag: string): string {
	const folder = join(dir, `drizzle-${lastTag}`);
	cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
	const journalPath = join(folder, "meta", "_journal.json");
	const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: Array<{ tag: string }> };
	const end = journal.entries.findIndex((entry) => entry.tag === lastTag);
	expect(end).toBeGreaterThanOrEqual(0);
	journal.entries = journal.entries.slice(0, end + 1);
	writeFileSync(journalPath, JSON.stringify(journal));
	return folder;
}

describe("0007_grid_24", () => {
	it("doubles x and w of every stored panel, keeps their order and everything else", async () => {
		const url = `file:${join(dir, "old.db")}`;
		const old = createClient({ url });
		await migrate(drizzle(old), { migrationsFolder: migrationsUpTo("0006_alert_fairness") });
		const panels = [
			{
				id: "wide",
				title: "Wide",
				kind: "number",
				query: "SELECT count(*) FROM logs",
				layout: { x: 0, y: 0, w: 12, h: 4 },
			},
			{
				id: "left",
				title: "Left",
				kind: "table",
				query: "SELECT count(*) FROM spans",
				layout: { x: 0, y: 4, w: 4, h: 3 },
				options: { big: 1 },
			},
			{
				id: "right",
				title: "Right",
				kind: "bar",
				query: "SELECT count(*) FROM spans",
				layout: { x: 4, y: 4, w: 8, h: 3 },
			},
		];
		await old.execute(
			"INSERT INTO orgs (id, name, retention_days, created_at) VALUES ('org_1', 'Acme', 30, 0)",
		);
		const insert = `INSERT INTO dashboards (id, org_id, title, time_range, panels, version, created_by, updated_by, created_at, updated_at)
			VALUES (?, 'org_1', ?, '{"last":"1h"}', ?, 3, 'usr_1', 'usr_1', 0, 0)`;
		await old.execute({
			sql: insert,
			args: ["dash_old", "Old", JSON.stringify(panels).replace('"big":1', '"big":9007199254740993')],
		});
		await old.execute({ sql: insert, args: ["dash_empty", "Empty", "[]"] });
		old.close();

		const { client } = await openMigratedDatabase(url);
		const rows = await client.execute("SELECT id, panels, version FROM dashboards ORDER BY id");
		client.close();
		const byId = new Map(rows.rows.map((row) => [row.id as string, row]));
		expect(byId.get("dash_empty")?.panels).toBe("[]");
		const migrated = JSON.parse(String(byId.get("dash_old")?.panels)) as typeof panels;
		expect(migrated.map((p) => [p.id, p.layout])).toEqual([
			["wide", { x: 0, y: 0, w: 24, h: 4 }],
			["left", { x: 0, y: 4, w: 8, h: 3 }],
			["right", { x: 8, y: 4, w: 16, h: 3 }],
		]);
		expect(migrated[0]).toMatchObject({ title: "Wide", kind: "number", query: "SELECT count(*) FROM logs" });
		expect(String(byId.get("dash_old")?.panels)).toContain('"big":9007199254740993');
		// A data migration is not an edit: the version a client holds still matches.
		expect(byId.get("dash_old")?.version).toBe(3);
	});
});

describe("0009_per_org_accounts", () => {
	it("keeps every user, and makes addresses unique per org instead of globally", async () => {
		const url = `file:${join(dir, "accounts.db")}`;
		const old = createClient({ url });
		await migrate(drizzle(old), { migrationsFolder: migrationsUpTo("0008_queue") });
		await old.execute(
			"INSERT INTO orgs (id, name, retention_days, created_at) VALUES ('org_a', 'Acme', 30, 0), ('org_b', 'Globex', 30, 0)",
		);
		const insert = `INSERT INTO users (id, org_id, email, name, role, password_hash, must_change_password, password_changed_at, totp_secret, totp_enabled_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 0, 5, ?, ?, ?, 7)`;
		await old.execute({
			sql: insert,
			args: ["usr_ada", "org_a", "ada@example.com", "Ada", "owner", "$scrypt$hash-a", "sealed", 6, 1],
		});
		await old.execute({
			sql: insert,
			args: ["usr_bob", "org_b", "bob@example.com", "Bob", "viewer", "$scrypt$hash-b", null, null, 2],
		});
		// Before: one account per address, whatever the org.
		await expect(
			old.execute({
				sql: insert,
				args: ["usr_ada_b", "org_b", "ada@example.com", "Ada B", "member", "x", null, null, 3],
			}),
		).rejects.toThrow(/UNIQUE/);
		const before = await old.execute("SELECT * FROM users ORDER BY id");
		old.close();

		const { client } = await openMigratedDatabase(url);
		try {
			const after = await client.execute("SELECT * FROM users ORDER BY id");
			expect(after.rows.map((row) => ({ ...row }))).toEqual(before.rows.map((row) => ({ ...row })));
			// After: the address may have an account in another org, not a second one in the same org.
			await client.execute({
				sql: insert,
				args: ["usr_ada_b", "org_b", "ada@example.com", "Ada B", "member", "x", null, null, 3],
			});
			await expect(
				client.execute({
					sql: insert,
					args: ["usr_ada_a2", "org_a", "ada@example.com", "Ada 2", "member", "y", null, null, 4],
				}),
			).rejects.toThrow(/UNIQUE/);
			const ada = await client.execute(
				"SELECT id, org_id FROM users WHERE email = 'ada@example.com' ORDER BY created_at",
			);
			expect(ada.rows.map((row) => [row.id, row.org_id])).toEqual([
				["usr_ada", "org_a"],
				["usr_ada_b", "org_b"],
			]);
			const indexes = await client.execute(
				"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' ORDER BY name",
			);
			expect(indexes.rows.map((row) => row.name)).toEqual(
				expect.arrayContaining(["users_email_idx", "users_org_email_unique"]),
			);
			expect(indexes.rows.map((row) => row.name)).not.toContain("users_email_unique");
		} finally {
			client.close();
		}
	});
});
