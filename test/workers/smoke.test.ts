import { env, exports } from "cloudflare:workers";
import { createClient } from "@libsql/client/web";
import { expect, it } from "vitest";
import { createDatabase } from "../../src/db/client.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";

it("serves annotations from workerd", async () => {
	const db = createDatabase(createClient({ url: env.DATABASE_URL }));
	const org = await createOrg(db, { now: () => Date.now() }, "Edge");
	const { key } = await createApiKey(db, { now: () => Date.now() }, { orgId: org.id, name: "k", createdBy: "cli" });
	const res = await exports.default.fetch("http://x/api/v1/annotations", {
		method: "POST",
		headers: { "X-API-Key": key, "Content-Type": "application/json" },
		body: JSON.stringify({ title: "edge deploy" }),
	});
	expect(res.status).toBe(201);
	const list = await exports.default.fetch("http://x/api/v1/annotations", { headers: { "X-API-Key": key } });
	expect(((await list.json()) as { data: unknown[] }).data).toHaveLength(1);
	expect(await env.KEY_CACHE.get("x")).toBeNull();
});
