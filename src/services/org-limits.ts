import { DEFAULT_ORG_LIMITS, type OrgLimits } from "../config.js";
import { ApiError, type ErrorCode } from "../errors.js";

/** What the org has a limit on (docs/limits.md, "Per org"). */
export type LimitedKind = keyof OrgLimits;

const LIMITED: Record<LimitedKind, { code: ErrorCode; what: string; setting: string; way: string }> = {
	users: {
		code: "user_limit_reached",
		what: "users",
		setting: "ORG_MAX_USERS",
		way: "delete one first (a disabled user still counts)",
	},
	teams: { code: "team_limit_reached", what: "teams", setting: "ORG_MAX_TEAMS", way: "delete one first" },
	apiKeys: {
		code: "api_key_limit_reached",
		what: "API keys not revoked",
		setting: "ORG_MAX_API_KEYS",
		way: "revoke one first (an expired key counts until it is revoked)",
	},
	dashboards: {
		code: "dashboard_limit_reached",
		what: "dashboards",
		setting: "ORG_MAX_DASHBOARDS",
		way: "delete one first",
	},
	savedQueries: {
		code: "saved_query_limit_reached",
		what: "saved queries, private ones included",
		setting: "ORG_MAX_SAVED_QUERIES",
		way: "delete one first",
	},
};

/** The org's limit on `kind`: the deployment's, else the default. */
export function orgLimit(limits: OrgLimits | undefined, kind: LimitedKind): number {
	return (limits ?? DEFAULT_ORG_LIMITS)[kind];
}

/** 409 `<kind>_limit_reached`: the org already has `limit` of them. */
export function limitReached(kind: LimitedKind, limit: number): ApiError {
	const { code, what, setting, way } = LIMITED[kind];
	return new ApiError(
		409,
		code,
		`An organization has at most ${limit.toLocaleString("en-US")} ${what} (${setting}); ${way}.`,
	);
}

/** The sentence the OpenAPI document says about a create route's limit. */
export function limitNote(kind: LimitedKind): string {
	const { code, what, setting } = LIMITED[kind];
	const limit = DEFAULT_ORG_LIMITS[kind].toLocaleString("en-US");
	return `An organization has at most ${limit} ${what} by default (\`${setting}\`); beyond, 409 \`${code}\`.`;
}
