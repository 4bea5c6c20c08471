/**
 * A failed query in the log: its SQL and the driver's reason, never its bound values (drizzle's
 * message lists them: emails, password hashes, lookup hashes).
 */
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { users } from "../../src/db/schema.js";
import { errorFields } from "../../src/log.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

let t: TestApp;
afterEach(() => t?.close());

describe("errorFields", () => {
	it("a failed drizzle query keeps its SQL and cause but not its parameters", async () => {
		t = await createTestApp();
		t.database.client.close();
		const secret = "$scrypt$ln=14,r=8,p=5$c2VjcmV0LXNhbHQ$secret-hash-value";
		const error = await t.database.db
			.update(users)
			.set({ passwordHash: secret })
			.where(eq(users.email, "grace@example.test"))
			.catch((e: unknown) => e);
		// The error as drizzle builds it carries the values…
		expect(String((error as Error).message)).toContain(secret);
		const fields = errorFields(error);
		// …the log line does not.
		expect(fields.error).not.toContain(secret);
		expect(fields.error).not.toContain("grace@example.test");
		expect(fields.error).toMatch(/Failed query: update "users" set "password_hash" = \\?/);
		expect(fields.error).toContain("params: (2 values, not logged)");
		expect(fields.error).toMatch(/\n\s+at /); // the stack is still there
		expect(fields.cause).toBeTruthy();
	});

	it("a failed query wrapped as another error's cause is redacted too", async () => {
		t = await createTestApp();
		t.database.client.close();
		const secret = "$scrypt$ln=14,r=8,p=5$c2FsdA$wrapped-secret";
		const failed = await t.database.db
			.update(users)
			.set({ passwordHash: secret })
			.where(eq(users.email, "ada@example.test"))
			.catch((e: unknown) => e);
		const fields = errorFields(new Error("the write failed", { cause: failed }));
		expect(fields.cause).toBeTruthy();
		expect(fields.cause).not.toContain(secret);
		expect(fields.cause).toContain("params: (2 values, not logged)");
	});

	it("other errors are logged as they are", () => {
		const error = new Error("boom");
		expect(errorFields(error).error).toBe(String(error.stack));
		expect(errorFields("plain")).toEqual({ error: "plain" });
	});
});
