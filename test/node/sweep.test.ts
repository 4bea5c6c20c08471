import { afterEach, describe, expect, it } from "vitest";
import { loginThrottles, refreshFamilies, refreshTokens, users } from "../../src/db/schema.js";
import {
	recordLoginFailure,
	revokeFamily,
	SESSION_SETTINGS,
	startRefreshFamily,
	THROTTLE_SETTINGS,
} from "../../src/services/sessions.js";
import { runSweep } from "../../src/sweep.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

let t: TestApp;
afterEach(() => t.close());

async function seedUser(app: TestApp): Promise<{ id: string; orgId: string }> {
	const { orgId } = await app.createOrgWithKey();
	const now = app.clock.now();
	const id = `usr_${Math.random().toString(36).slice(2)}`;
	await app.deps.db.insert(users).values({
		id,
		orgId,
		email: `${id}@example.com`,
		name: "Sweep",
		role: "member",
		createdAt: now,
		updatedAt: now,
	});
	return { id, orgId };
}

describe("the sweep", () => {
	it("drops expired refresh tokens and dead families, keeps live ones, and is idempotent", async () => {
		t = await createTestApp();
		const user = await seedUser(t);
		await startRefreshFamily(t.deps.db, user, t.clock.now());
		const revoked = await startRefreshFamily(t.deps.db, user, t.clock.now());
		const [revokedFamily] = await t.deps.db.select().from(refreshFamilies);
		await revokeFamily(t.deps.db, revokedFamily?.id as string, t.clock.now(), "test");
		expect(revoked.token).toMatch(/^hxr_/);

		await runSweep(t.deps);
		expect(await t.deps.db.select().from(refreshTokens)).toHaveLength(2);

		t.clock.advance(SESSION_SETTINGS.refreshIdleMs + 1);
		await Promise.all([runSweep(t.deps), runSweep(t.deps)]);
		expect(await t.deps.db.select().from(refreshTokens)).toHaveLength(0);
		// The revoked family is gone; the live one stays until its absolute expiry.
		expect(await t.deps.db.select().from(refreshFamilies)).toHaveLength(1);

		t.clock.advance(SESSION_SETTINGS.refreshAbsoluteMs);
		await runSweep(t.deps);
		expect(await t.deps.db.select().from(refreshFamilies)).toHaveLength(0);
	});

	it("forgets login failures once their window has passed and no block is running", async () => {
		t = await createTestApp();
		await recordLoginFailure(t.deps.db, "account:a@example.com", THROTTLE_SETTINGS.account, t.clock.now());
		await runSweep(t.deps);
		expect(await t.deps.db.select().from(loginThrottles)).toHaveLength(1);
		t.clock.advance(THROTTLE_SETTINGS.windowMs + 1);
		await runSweep(t.deps);
		expect(await t.deps.db.select().from(loginThrottles)).toHaveLength(0);
	});
});
