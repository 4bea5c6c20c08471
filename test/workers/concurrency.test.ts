import { describe, expect, it } from "vitest";
import { newKey, orgWithKey, workerFetch } from "./support.js";

describe("one isolate under concurrent load", () => {
	it("answers 60 concurrent requests with 60 cold keys (60 libSQL reads in flight at once)", async () => {
		const { orgId } = await orgWithKey();
		const keys = await Promise.all(Array.from({ length: 60 }, (_, i) => newKey(orgId, `k${i}`)));
		const responses = await Promise.all(
			keys.map(({ key }) => workerFetch("/api/v1/annotations?limit=1", { headers: { "X-API-Key": key } })),
		);
		expect(responses.map((r) => r.status)).toEqual(keys.map(() => 200));
	});
});

describe("single-flight inside workerd", () => {
	it("answers 100 concurrent requests that share one cold key", async () => {
		const { key } = await orgWithKey();
		const responses = await Promise.all(
			Array.from({ length: 100 }, () =>
				workerFetch("/api/v1/annotations?limit=1", { headers: { "X-API-Key": key } }),
			),
		);
		expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
	});
});
