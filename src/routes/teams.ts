import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, count, eq, sql } from "drizzle-orm";
import type { AppDeps, AppEnv } from "../app-env.js";
import { ROLES } from "../auth/jwt.js";
import { sessionAccess, sessionActor } from "../auth/session-access.js";
import type { Database } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { insertUnderLimit } from "../db/insert-under-limit.js";
import { teamMembers, teams, users } from "../db/schema.js";
import { ApiError } from "../errors.js";
import { jsonBody } from "../http/json-body.js";
import { errorResponses, pathParam, validationHook } from "../http/openapi.js";
import { toRfc3339 } from "../http/time.js";
import { newId } from "../ids.js";
import { limitNote, limitReached, orgLimit } from "../services/org-limits.js";

const Name = z.string().trim().min(1).max(200).openapi({ example: "payments" });
const Description = z.string().max(2000).nullable().optional().openapi({ example: "Checkout and billing" });

const TeamSchema = z
	.object({
		id: z.string().openapi({ example: "team_9vB2xQ7mLp4KcZ1nRt8W" }),
		name: z.string(),
		description: z.string().nullable(),
		member_count: z.number().int(),
		created_at: z.string(),
		updated_at: z.string(),
	})
	.openapi("Team");

const MemberSchema = z
	.object({ id: z.string(), name: z.string(), email: z.string(), role: z.enum(ROLES) })
	.openapi("TeamMember");

const TeamWithMembersSchema = TeamSchema.extend({ members: z.array(MemberSchema) }).openapi(
	"TeamWithMembers",
);

const CreateBody = z
	.strictObject({ name: Name, description: Description })
	.openapi("TeamCreate", { example: { name: "payments", description: "Checkout and billing" } });

const PatchBody = z
	.strictObject({ name: Name.optional(), description: Description })
	.refine((b) => b.name !== undefined || b.description !== undefined, {
		message: "Send at least one of name, description",
	})
	.openapi("TeamUpdate");

const IdParams = z.object({ id: pathParam("id", "team_9vB2xQ7mLp4KcZ1nRt8W") });
const MemberParams = z.object({
	id: pathParam("id", "team_9vB2xQ7mLp4KcZ1nRt8W"),
	user_id: pathParam("user_id", "usr_4kTn8QpZ2xLc7VbR0mWs"),
});

type TeamRow = typeof teams.$inferSelect;

function toTeamJson(team: TeamRow, memberCount: number): z.infer<typeof TeamSchema> {
	return {
		id: team.id,
		name: team.name,
		description: team.description,
		member_count: memberCount,
		created_at: toRfc3339(team.createdAt),
		updated_at: toRfc3339(team.updatedAt),
	};
}

const teamNotFound = () => new ApiError(404, "not_found", "No team with that id.");
const userNotFound = () => new ApiError(404, "not_found", "No user with that id.");
const duplicateName = () =>
	new ApiError(409, "conflict", "The organization already has a team with this name.");

async function findTeam(db: Database, orgId: string, id: string): Promise<TeamRow> {
	const [team] = await db
		.select()
		.from(teams)
		.where(and(eq(teams.id, id), eq(teams.orgId, orgId)));
	if (!team) throw teamNotFound();
	return team;
}

async function assertUserInOrg(db: Database, orgId: string, userId: string): Promise<void> {
	const [user] = await db
		.select({ id: users.id })
		.from(users)
		.where(and(eq(users.id, userId), eq(users.orgId, orgId)));
	if (!user) throw userNotFound();
}

async function memberCount(db: Database, teamId: string): Promise<number> {
	const [row] = await db.select({ n: count() }).from(teamMembers).where(eq(teamMembers.teamId, teamId));
	return row?.n ?? 0;
}

/** Teams and their members (contract §6): everyone reads; admins manage. */
export function teamRoutes(deps: AppDeps) {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	const read = sessionAccess(deps, "viewer");
	const admin = sessionAccess(deps, "admin");
	const tags = ["Teams"];
	const security = [{ Bearer: [] }];

	app.openapi(
		createRoute({
			method: "get",
			path: "/",
			tags,
			security,
			summary: "List the organization's teams with their member counts",
			middleware: [read] as const,
			responses: {
				200: {
					description: "The teams, by name",
					content: { "application/json": { schema: z.object({ data: z.array(TeamSchema) }) } },
				},
				...errorResponses(400, 401, 403),
			},
		}),
		async (c) => {
			const rows = await deps.db
				.select({ team: teams, members: count(teamMembers.userId) })
				.from(teams)
				.leftJoin(teamMembers, eq(teamMembers.teamId, teams.id))
				.where(eq(teams.orgId, sessionActor(c).orgId))
				.groupBy(teams.id)
				.orderBy(asc(teams.name), asc(teams.id));
			return c.json({ data: rows.map((row) => toTeamJson(row.team, row.members)) }, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "post",
			path: "/",
			tags,
			security,
			summary: "Create a team",
			description: `Team names are unique within the organization (409 \`conflict\`). ${limitNote("teams")}`,
			middleware: [admin, jsonBody] as const,
			request: { body: { required: true, content: { "application/json": { schema: CreateBody } } } },
			responses: {
				201: { description: "Created", content: { "application/json": { schema: TeamSchema } } },
				...errorResponses(400, 401, 403, 409, 413, 415),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			const now = deps.clock.now();
			const team: TeamRow = {
				id: newId("team"),
				orgId: sessionActor(c).orgId,
				name: body.name,
				description: body.description ?? null,
				createdAt: now,
				updatedAt: now,
			};
			const limit = orgLimit(deps.config.orgLimits, "teams");
			const inserted = await insertUnderLimit(deps.db, teams, team, eq(teams.orgId, team.orgId), limit, {
				ignoreConflict: true,
			});
			if (inserted === "full") throw limitReached("teams", limit);
			if (inserted === "conflict") throw duplicateName();
			return c.json(toTeamJson(team, 0), 201);
		},
	);

	app.openapi(
		createRoute({
			method: "get",
			path: "/{id}",
			tags,
			security,
			summary: "Get a team with its members",
			middleware: [read] as const,
			request: { params: IdParams },
			responses: {
				200: { description: "The team", content: { "application/json": { schema: TeamWithMembersSchema } } },
				...errorResponses(400, 401, 403, 404),
			},
		}),
		async (c) => {
			const team = await findTeam(deps.db, sessionActor(c).orgId, c.req.valid("param").id);
			const members = await deps.db
				.select({ id: users.id, name: users.name, email: users.email, role: users.role })
				.from(teamMembers)
				.innerJoin(users, eq(users.id, teamMembers.userId))
				.where(and(eq(teamMembers.teamId, team.id), eq(users.orgId, team.orgId)))
				.orderBy(asc(users.name), asc(users.id));
			return c.json({ ...toTeamJson(team, members.length), members }, 200);
		},
	);

	app.openapi(
		createRoute({
			method: "patch",
			path: "/{id}",
			tags,
			security,
			summary: "Rename a team or change its description",
			middleware: [admin, jsonBody] as const,
			request: {
				params: IdParams,
				body: { required: true, content: { "application/json": { schema: PatchBody } } },
			},
			responses: {
				200: { description: "The updated team", content: { "application/json": { schema: TeamSchema } } },
				...errorResponses(400, 401, 403, 404, 409, 413, 415),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			const { id } = c.req.valid("param");
			let updated: TeamRow | undefined;
			try {
				[updated] = await deps.db
					.update(teams)
					.set({
						...(body.name !== undefined && { name: body.name }),
						...(body.description !== undefined && { description: body.description }),
						updatedAt: deps.clock.now(),
					})
					.where(and(eq(teams.id, id), eq(teams.orgId, sessionActor(c).orgId)))
					.returning();
			} catch (error) {
				if (isUniqueViolation(error)) throw duplicateName();
				throw error;
			}
			if (!updated) throw teamNotFound();
			return c.json(toTeamJson(updated, await memberCount(deps.db, updated.id)), 200);
		},
	);

	app.openapi(
		createRoute({
			method: "delete",
			path: "/{id}",
			tags,
			security,
			summary: "Delete a team (its users stay)",
			middleware: [admin] as const,
			request: { params: IdParams },
			responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404) },
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const [deleted] = await deps.db.batch([
				deps.db
					.delete(teams)
					.where(and(eq(teams.id, id), eq(teams.orgId, sessionActor(c).orgId)))
					.returning({ id: teams.id }),
				// Also when a remote database does not enforce foreign keys; acts only once the team is gone.
				deps.db
					.delete(teamMembers)
					.where(
						and(
							eq(teamMembers.teamId, id),
							sql`NOT EXISTS (SELECT 1 FROM ${teams} WHERE ${teams.id} = ${id})`,
						),
					),
			]);
			if (deleted.length !== 1) throw teamNotFound();
			return c.body(null, 204);
		},
	);

	app.openapi(
		createRoute({
			method: "put",
			path: "/{id}/members/{user_id}",
			tags,
			security,
			summary: "Add a user to a team (idempotent)",
			description: "The user must belong to the organization (else 404). Adding a member again answers 204.",
			middleware: [admin] as const,
			request: { params: MemberParams },
			responses: { 204: { description: "The user is a member" }, ...errorResponses(400, 401, 403, 404) },
		}),
		async (c) => {
			const orgId = sessionActor(c).orgId;
			const params = c.req.valid("param");
			const team = await findTeam(deps.db, orgId, params.id);
			await assertUserInOrg(deps.db, orgId, params.user_id);
			// Conditional on both still being there, so a concurrent delete cannot leave a dangling member.
			await deps.db.run(
				sql`INSERT INTO ${teamMembers} (team_id, user_id, org_id, added_at) SELECT ${team.id}, ${params.user_id}, ${orgId}, ${deps.clock.now()} WHERE EXISTS (SELECT 1 FROM ${users} WHERE id = ${params.user_id} AND org_id = ${orgId}) AND EXISTS (SELECT 1 FROM ${teams} WHERE id = ${team.id} AND org_id = ${orgId}) ON CONFLICT DO NOTHING`,
			);
			return c.body(null, 204);
		},
	);

	app.openapi(
		createRoute({
			method: "delete",
			path: "/{id}/members/{user_id}",
			tags,
			security,
			summary: "Remove a user from a team (idempotent)",
			description:
				"Team and user must belong to the organization (else 404); removing a non-member answers 204.",
			middleware: [admin] as const,
			request: { params: MemberParams },
			responses: { 204: { description: "The user is not a member" }, ...errorResponses(400, 401, 403, 404) },
		}),
		async (c) => {
			const orgId = sessionActor(c).orgId;
			const params = c.req.valid("param");
			const team = await findTeam(deps.db, orgId, params.id);
			await assertUserInOrg(deps.db, orgId, params.user_id);
			await deps.db
				.delete(teamMembers)
				.where(and(eq(teamMembers.teamId, team.id), eq(teamMembers.userId, params.user_id)));
			return c.body(null, 204);
		},
	);

	return app;
}
