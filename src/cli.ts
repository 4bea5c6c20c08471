import { parseArgs } from "node:util";
import { z } from "zod";
import { generateSigningKey, ROLES, type Role } from "./auth/jwt.js";
import { checkPasswordPolicy } from "./auth/password.js";
import { systemClock } from "./clock.js";
import { optionalText } from "./config.js";
import { openMigratedDatabase } from "./db/node.js";
import { DEFAULT_DATABASE_URL } from "./runtime/node-deps.js";
import { apiKeyStatus, createApiKey, createOrg, listApiKeys, revokeApiKey } from "./services/api-keys.js";
import { createUser } from "./services/users.js";

const USAGE = `hexcovery — command-line tool for the Hexcovery API (contract §7)

Usage: npm run --silent hexcovery -- <command>

  org create <name>                          create an organization; prints its id
  key create --org <org_id> --name <name> [--expires-in-days <n>]
                                             create an API key; prints the key (shown once)
  key list --org <org_id>                    one line per key: <key_id> <start> <status> <name>
  key revoke <key_id>                        revoke a key
  user create --org <org_id> --email <e> --role <viewer|member|admin|owner> [--name <n>] [--password <p>]
                                             create a user; without --password prints a one-time
                                             password (to be changed at first login), else the user id
  migrate                                    apply database migrations
  jwt keygen                                 print a private JWKS (one Ed25519 key) for JWT_SIGNING_KEYS

The database is DATABASE_URL (default ${DEFAULT_DATABASE_URL}). The secret or id a command creates
is always the last line of stdout.`;

class UsageError extends Error {}

function required(value: string | undefined, what: string): string {
	if (value === undefined || value.trim() === "") throw new UsageError(`missing ${what}`);
	return value;
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
		},
	});
	const [group, action, ...rest] = positionals;
	const command = `${group ?? ""} ${action ?? ""}`.trim();
	if (values.help || !group) {
		out(USAGE);
		return;
	}
	switch (command) {
		case "org create": {
			const name = required(rest.join(" ") || values.name, "<name>");
			const org = await withDatabase((db) => createOrg(db, systemClock, name));
			out(org.id);
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
			const created = await withDatabase(async (db) => {
				const orgs = await db.query.orgs.findFirst({ where: (o, { eq }) => eq(o.id, orgId) });
				if (!orgs) throw new UsageError(`no organization ${orgId}`);
				return createApiKey(db, systemClock, { orgId, name, createdBy: "cli", expiresAt });
			});
			out(`created ${created.summary.id} (${created.summary.start}…) for ${orgId}; the key is shown once:`);
			out(created.key);
			return;
		}
		case "key list": {
			const orgId = required(values.org, "--org <org_id>");
			const keys = await withDatabase((db) => listApiKeys(db, orgId));
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
				const user = await createUser(db, systemClock, { orgId, email, name, role: role as Role, password });
				if (!user) throw new UsageError(`a user with the email ${email} already exists`);
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
		case "migrate": {
			await withDatabase(async () => undefined);
			out("migrations applied");
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
		process.stderr.write(`hexcovery: ${String((error as Error).message ?? error)}\n`);
		process.exit(1);
	});
}
