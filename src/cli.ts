import { parseArgs } from "node:util";
import { z } from "zod";
import { generateSigningKey, ROLES, type Role } from "./auth/jwt.js";
import { checkPasswordPolicy } from "./auth/password.js";
import { systemClock } from "./clock.js";
import { optionalText, orgLimitsFrom } from "./config.js";
import { isStorageFailure } from "./db/errors.js";
import { openMigratedDatabase } from "./db/node.js";
import { DiscoveryMemory } from "./ingest/discovery.js";
import { listDeadLetters, replayDeadLetters } from "./ingest/queue.js";
import { libsqlClientOf } from "./ingest/writer.js";
import { redactDatabaseUrl } from "./runtime/logger.js";
import { DEFAULT_DATABASE_URL } from "./runtime/node-deps.js";
import { apiKeyStatus, createApiKey, createOrg, listApiKeys, revokeApiKey } from "./services/api-keys.js";
import { createUser } from "./services/users.js";
import { clickHouseSettingsFrom } from "./telemetry/config.js";
import { openClickHouseTelemetry } from "./telemetry/node.js";

/** Every command: what `help` lists and what `<command> --help` prints. */
const COMMANDS: Record<string, { synopsis: string; summary: string; details?: string }> = {
	"org create": {
		synopsis: "org create <name>",
		summary: "create an organization; prints its id",
		details:
			"The first organization, with its owner, usually comes from first-run setup (the dashboard or\nPOST /api/v1/setup); for a key in that one, use `org list` and `key create --org`. An\norganization made here has no users: what its keys send is seen by no one until `user create`.",
	},
	"org list": { synopsis: "org list", summary: "one line per organization: <org_id> <name>" },
	"key create": {
		synopsis: "key create --org <org_id> --name <name> [--expires-in-days <n>]",
		summary: "create an API key for an organization; prints the key (shown once)",
		details: `Options:
  --org <org_id>           the organization the key belongs to (see \`org list\`)
  --name <name>            what the key is for, shown in key lists
  --expires-in-days <n>    1 to 3650; without it the key does not expire`,
	},
	"key list": {
		synopsis: "key list --org <org_id>",
		summary: "one line per key: <key_id> <start> <status> <name>",
	},
	"key revoke": { synopsis: "key revoke <key_id>", summary: "revoke a key" },
	"user create": {
		synopsis:
			"user create --org <org_id> --email <e> --role <viewer|member|admin|owner> [--name <n>] [--password <p>]",
		summary: "create a user; prints a one-time password, or the user id with --password",
		details: `Options:
  --org <org_id>      the organization (see \`org list\`)
  --email <e>         the sign-in email; unique within the organization (an address with an
                      account in another organization gets a new, independent one here)
  --role <r>          viewer, member, admin or owner
  --name <n>          display name (default: the email's local part)
  --password <p>      the user's password; without it a one-time password is printed,
                      to be changed at the first sign-in`,
	},
	"queue dead-letters": {
		synopsis: "queue dead-letters",
		summary: "one line per parked dead letter: <message_id> <org_id> <parked_at> <bytes> <reason>",
		details:
			"Telemetry queue messages a Worker's consumer could not store within max_retries land in the\ndead-letter queue, whose consumer parks them in the database (docs/scale-out.md). Oldest first.",
	},
	"queue replay": {
		synopsis: "queue replay (<message_id>... | --all)",
		summary: "store parked dead letters now; each stored one leaves the list",
		details:
			"Each message is written straight into the telemetry store with its receipt, in its own\ntransaction, as the queue consumer would: one already stored is not stored twice. One line per\nmessage: <message_id> stored|duplicate|failed|not_found [error]. Exits 1 if any was not replayed\n(failed or not_found).",
	},
	migrate: {
		synopsis: "migrate",
		summary: "apply database migrations (and ClickHouse's, with TELEMETRY_URL)",
		details:
			"Applies the libSQL migrations to DATABASE_URL; with TELEMETRY_URL set, also the ClickHouse\nmigrations (clickhouse/migrations) to TELEMETRY_DATABASE, as a Node server's start does. A\nWorker never migrates ClickHouse itself: run this once before deploying it with TELEMETRY_URL.",
	},
	"jwt keygen": {
		synopsis: "jwt keygen",
		summary: "print a private JWKS (one Ed25519 key) for JWT_SIGNING_KEYS",
	},
	help: { synopsis: "help [<command>]", summary: "this list, or one command's help" },
};

const FOOTER = `The database is DATABASE_URL (default ${DEFAULT_DATABASE_URL}). The secret or id a command creates
is always the last line of stdout. \`<command> --help\` shows one command's options.`;

function usage(): string {
	const lines = Object.values(COMMANDS).map(({ synopsis, summary }) =>
		synopsis.length > 40
			? `  ${synopsis}\n  ${" ".repeat(42)}${summary}`
			: `  ${synopsis.padEnd(42)}${summary}`,
	);
	return `hexcovery — command-line tool for the Hexcovery API

Usage: npm run --silent hexcovery -- <command>

${lines.join("\n")}

${FOOTER}`;
}

/** Help for one command, or for every command of a group (`key --help`); null when unknown. */
function commandHelp(name: string): string | null {
	const command = COMMANDS[name];
	if (command) {
		return `Usage: npm run --silent hexcovery -- ${command.synopsis}\n\n${command.summary}${command.details ? `\n\n${command.details}` : ""}`;
	}
	const group = Object.entries(COMMANDS).filter(([key]) => key.startsWith(`${name} `));
	if (group.length === 0) return null;
	return group.map(([key]) => commandHelp(key)).join("\n\n");
}

class UsageError extends Error {}
/** Some dead letters were not stored (exit status 1; each is named on stdout). */
export class ReplayFailed extends Error {}

function required(value: string | undefined, what: string): string {
	if (value === undefined || value.trim() === "") throw new UsageError(`missing ${what}`);
	return value;
}

/** The organization `orgId`, or a usage error naming it (exit 64). */
async function existingOrg(db: Awaited<ReturnType<typeof openMigratedDatabase>>["db"], orgId: string) {
	const org = await db.query.orgs.findFirst({ where: (o, { eq }) => eq(o.id, orgId) });
	if (!org) throw new UsageError(`no organization ${orgId} (see \`org list\`)`);
	return org;
}

async function withDatabase<T>(
	work: (db: Awaited<ReturnType<typeof openMigratedDatabase>>["db"]) => Promise<T>,
): Promise<T> {
	const url = optionalText(process.env, "DATABASE_URL", DEFAULT_DATABASE_URL);
	const token = optionalText(process.env, "DATABASE_AUTH_TOKEN", "") || undefined;
	const { client, db } = await openMigratedDatabase(url, token);
	try {
		return await work(db);
	} finally {
		client.close();
	}
}

export async function runCli(argv: string[], out: (line: string) => void): Promise<void> {
	const { values, positionals } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			org: { type: "string" },
			name: { type: "string" },
			"expires-in-days": { type: "string" },
			email: { type: "string" },
			role: { type: "string" },
			password: { type: "string" },
			help: { type: "boolean", short: "h" },
			all: { type: "boolean" },
		},
	});
	const [group, action, ...rest] = positionals;
	const command = (group && group in COMMANDS ? group : `${group ?? ""} ${action ?? ""}`).trim();
	if (!group || (group === "help" && !action)) {
		out(usage());
		return;
	}
	if (group === "help" || values.help) {
		const name = group === "help" ? positionals.slice(1).join(" ") : command;
		const help = commandHelp(name) ?? (group && values.help ? commandHelp(group) : null);
		if (!help) throw new UsageError(`unknown command "${name}"`);
		out(help);
		return;
	}
	switch (command) {
		case "org create": {
			const name = required(rest.join(" ") || values.name, "<name>");
			const org = await withDatabase((db) => createOrg(db, systemClock, name));
			out(org.id);
			return;
		}
		case "org list": {
			const orgs = await withDatabase((db) =>
				db.query.orgs.findMany({ orderBy: (o, { asc }) => [asc(o.createdAt), asc(o.id)] }),
			);
			for (const org of orgs) out(`${org.id} ${org.name}`);
			return;
		}
		case "key create": {
			const orgId = required(values.org, "--org <org_id>");
			const name = required(values.name, "--name <name>");
			const days = values["expires-in-days"];
			let expiresAt: number | null = null;
			if (days !== undefined) {
				const n = Number(days);
				if (!Number.isInteger(n) || n < 1 || n > 3650)
					throw new UsageError("--expires-in-days takes 1 to 3650");
				expiresAt = systemClock.now() + n * 86_400_000;
			}
			const { created, orgName } = await withDatabase(async (db) => {
				const org = await existingOrg(db, orgId);
				const limit = orgLimitsFrom(process.env).apiKeys;
				const key = await createApiKey(db, systemClock, { orgId, name, createdBy: "cli", expiresAt }, limit);
				return { created: key, orgName: org.name };
			});
			out(
				`created ${created.summary.id} (${created.summary.start}…) for ${orgId} "${orgName}"; the key is shown once:`,
			);
			out(created.key);
			return;
		}
		case "key list": {
			const orgId = required(values.org, "--org <org_id>");
			// An unknown org is a mistake, as for `key create` (it listed nothing and exited 0).
			const keys = await withDatabase(async (db) => {
				await existingOrg(db, orgId);
				return listApiKeys(db, orgId);
			});
			const now = systemClock.now();
			for (const key of keys) out(`${key.id} ${key.start} ${apiKeyStatus(key, now)} ${key.name}`);
			return;
		}
		case "key revoke": {
			const keyId = required(rest[0], "<key_id>");
			// No cache to clear here: a running Node server forgets the key within its memory TTL (docs/api-keys.md).
			const found = await withDatabase((db) => revokeApiKey(db, systemClock, null, keyId));
			if (!found) throw new UsageError(`no API key ${keyId}`);
			out(`revoked ${keyId}`);
			return;
		}
		case "user create": {
			const orgId = required(values.org, "--org <org_id>");
			const email = required(values.email, "--email <e>").trim().toLowerCase();
			if (email.length > 254 || !z.email().safeParse(email).success) {
				throw new UsageError(`--email: "${email}" is not an email address`);
			}
			const role = required(values.role, "--role <r>");
			if (!(ROLES as readonly string[]).includes(role)) {
				throw new UsageError(`--role takes one of ${ROLES.join(", ")}`);
			}
			const password = values.password;
			if (password !== undefined) {
				const problem = checkPasswordPolicy(password);
				if (problem) throw new UsageError(`--password: ${problem}`);
			}
			const name = values.name?.trim() || (email.split("@")[0] as string);
			const created = await withDatabase(async (db) => {
				const org = await db.query.orgs.findFirst({ where: (o, { eq }) => eq(o.id, orgId) });
				if (!org) throw new UsageError(`no organization ${orgId}`);
				const input = { orgId, email, name, role: role as Role, password };
				const user = await createUser(db, systemClock, input, undefined, orgLimitsFrom(process.env).users);
				if (!user) throw new UsageError(`a user with the email ${email} already exists in ${orgId}`);
				return user;
			});
			out(`created ${created.user.id} (${email}, ${role}) in ${orgId}`);
			if (created.initialPassword === null) {
				out(created.user.id);
			} else {
				out("one-time password (shown once; it must be changed at the first login):");
				out(created.initialPassword);
			}
			return;
		}
		case "queue dead-letters": {
			const letters = await withDatabase((db) => listDeadLetters(libsqlClientOf(db)));
			for (const l of letters) {
				out(`${l.messageId} ${l.orgId ?? "-"} ${new Date(l.parkedAt).toISOString()} ${l.bytes} ${l.reason}`);
			}
			return;
		}
		case "queue replay": {
			if (rest.length === 0 && !values.all) throw new UsageError("name the messages to replay, or --all");
			if (rest.length > 0 && values.all) throw new UsageError("either message ids or --all");
			const outcomes = await withDatabase(async (db) => {
				// With TELEMETRY_URL the rows go to ClickHouse, as the consumer's would.
				const clickhouse = clickHouseSettingsFrom(process.env);
				const store = clickhouse && (await openClickHouseTelemetry(db, clickhouse, { oqlTimeoutMs: 0 }));
				try {
					return await replayDeadLetters(
						libsqlClientOf(db),
						new DiscoveryMemory(systemClock),
						systemClock.now(),
						values.all ? undefined : rest,
						store ?? undefined,
					);
				} finally {
					await store?.close();
				}
			});
			for (const o of outcomes) out(`${o.messageId} ${o.outcome}${o.error ? ` ${o.error}` : ""}`);
			if (outcomes.some((o) => o.outcome === "failed" || o.outcome === "not_found")) {
				throw new ReplayFailed(
					`${outcomes.filter((o) => o.outcome !== "stored" && o.outcome !== "duplicate").length} not replayed`,
				);
			}
			return;
		}
		case "migrate": {
			const clickhouse = clickHouseSettingsFrom(process.env);
			await withDatabase(async (db) => {
				if (clickhouse) await (await openClickHouseTelemetry(db, clickhouse, { oqlTimeoutMs: 0 })).close();
			});
			out("migrations applied");
			if (clickhouse)
				out(`ClickHouse migrations applied (${clickhouse.url}, database ${clickhouse.database})`);
			return;
		}
		case "jwt keygen": {
			out(JSON.stringify({ keys: [await generateSigningKey()] }));
			return;
		}
		default:
			throw new UsageError(`unknown command "${command}"`);
	}
}

if (import.meta.url === `file://${process.argv[1]}`) {
	runCli(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`)).catch((error: unknown) => {
		if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
			process.stderr.write(`hexcovery: ${(error as Error).message}\nRun with --help for usage.\n`);
			process.exit(64);
		}
		const where = redactDatabaseUrl(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
		const place = isStorageFailure(error) ? `cannot use the database at ${where}: ` : "";
		process.stderr.write(`hexcovery: ${place}${reasonOf(error)}\n`);
		process.exit(1);
	});
}

/**
 * What went wrong, in one line: a driver's cause rather than the SQL statement an ORM error wraps
 * around it (drizzle's "Failed query: CREATE TABLE …" hid "connection refused").
 */
export function reasonOf(error: unknown): string {
	let current: unknown = error;
	while (current instanceof Error && /^Failed query:/.test(current.message) && current.cause !== undefined)
		current = current.cause;
	let message = firstLine(current);
	// fetch's "fetch failed" says why only in its cause (connect ECONNREFUSED 127.0.0.1:1).
	let cause = current instanceof Error ? current.cause : undefined;
	while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
	const why = cause === undefined ? "" : firstLine(cause);
	if (why && !message.includes(why)) message = `${message} (${why})`;
	// A driver's message may repeat the database URL, token and all.
	return message.replace(/\b(libsql|https?|wss?|file):\/\/\S+/g, (url) => redactDatabaseUrl(url));
}

/** An error's first line; for an AggregateError with no message (both ::1 and 127.0.0.1 refused), its first error's or its code. */
function firstLine(error: unknown): string {
	if (!(error instanceof Error)) return String(error).split("\n")[0] ?? "";
	const inner = error instanceof AggregateError ? error.errors[0] : undefined;
	const text =
		error.message ||
		(inner instanceof Error ? inner.message : "") ||
		String((error as { code?: unknown }).code ?? "");
	return text.split("\n")[0] ?? text;
}
