/**
 * A reader process (src/db/reader-process.mjs) whose server dies while it runs a statement: it
 * must end quietly once the statement is done (no unhandled EPIPE and its stack trace on the
 * server's stderr, which the reader shares), as after `kill -9` of the server in `npm run soak`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openMigratedDatabase } from "../../src/db/node.js";

const READER = fileURLToPath(new URL("../../src/db/reader-process.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "hexcovery-reader-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A parent in plain JavaScript: forks the reader (stderr shared), sends one slow statement. */
const PARENT = `
const { fork } = require("node:child_process");
const reader = fork(process.argv[1], [process.argv[2]], {
	serialization: "advanced",
	execArgv: [],
	stdio: ["ignore", "inherit", "inherit", "ipc"],
});
reader.on("message", (message) => {
	if (!message.ready) return;
	reader.send({ id: 1, statements: [
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n",
	] });
	setTimeout(() => process.stdout.write(String(reader.pid) + "\\n"), 100);
});
`;

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

describe("a reader whose server died mid-statement", () => {
	it("exits without an error on stderr once its statement ends", async () => {
		const path = join(dir, "reader.db");
		const { client } = await openMigratedDatabase(`file:${path}`);
		client.close();
		const parent = spawn(process.execPath, ["-e", PARENT, READER, path], {
			stdio: ["ignore", "pipe", "pipe"],
		});
		let stderr = "";
		parent.stderr.on("data", (chunk) => {
			stderr += String(chunk);
		});
		const line = await new Promise<string>((resolve) =>
			createInterface({ input: parent.stdout }).once("line", resolve),
		);
		const readerPid = Number(line);
		expect(alive(readerPid)).toBe(true);
		// The server is killed while the reader is inside its statement.
		parent.kill("SIGKILL");
		const deadline = Date.now() + 30_000;
		while (alive(readerPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
		expect(alive(readerPid)).toBe(false);
		// The shared stderr pipe closes once the reader is gone.
		await new Promise<void>((resolve) => {
			if (parent.stderr.readableEnded) resolve();
			else parent.stderr.once("close", () => resolve());
		});
		expect(stderr).not.toMatch(/EPIPE|Error|at /);
	}, 60_000);
});
