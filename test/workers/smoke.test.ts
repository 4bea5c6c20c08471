import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { orgWithKey } from "./support.js";

it("serves annotations from workerd: create with a key, then list it", async () => {
	const { key, keyId } = await orgWithKey("Smoke");
	const res = await exports.default.fetch("http://x/api/v1/annotations", {
		method: "POST",
		headers: { "X-API-Key": key, "Content-Type": "application/json" },
		body: JSON.stringify({ title: "edge deploy" }),
	});
	expect(res.status).toBe(201);
	const created = (await res.json()) as { id: string; created_by: { id: string } };
	expect(created.created_by.id).toBe(keyId);
	const list = await exports.default.fetch("http://x/api/v1/annotations", { headers: { "X-API-Key": key } });
	expect(list.status).toBe(200);
	expect(((await list.json()) as { data: { id: string }[] }).data.map((a) => a.id)).toEqual([created.id]);
});
