import cronstrue from "cronstrue";

/**
 * A cron schedule in words, 24-hour times: `30 3 * * *` → "At 03:30", `0 9 * * 1-5` → "At 09:00,
 * Monday through Friday" (cronstrue). Null for text it cannot read: the API is the judge of what
 * is valid (croner, src/heartbeats/schedule.ts); this only helps a person read it.
 */
export function describeCron(expression: string): string | null {
	const text = expression.trim();
	if (text.split(/\s+/).length !== 5) return null;
	try {
		return cronstrue.toString(text, { use24HourTimeFormat: true, throwExceptionOnParseError: true });
	} catch {
		return null;
	}
}
