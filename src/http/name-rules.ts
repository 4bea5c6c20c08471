import { z } from "@hono/zod-openapi";

/**
 * Name rules (slugs, tags) said in words, with the value made to fit when that is possible, instead
 * of the regular expression: `slug must be 1–64 characters: lower-case letters, digits, "-" and "_",
 * starting with a letter or digit; try "nightly-backup"`.
 */

export interface NameRule {
	/** The rule in words, e.g. `1–64 characters: lower-case letters, digits, "-" and "_", starting with a letter or digit`. */
	words: string;
	pattern: RegExp;
	/** One character that may follow the first (the first must be a lower-case letter or digit). */
	allowed: RegExp;
	max: number;
}

/** The value lower-cased, each run of other characters replaced by "-", trimmed to fit; null if nothing fits. */
export function suggestName(value: string, rule: NameRule): string | null {
	let out = "";
	for (const char of value.toLowerCase()) {
		if (rule.allowed.test(char)) out += char;
		else if (!out.endsWith("-")) out += "-";
	}
	out = out.replace(/^[^a-z0-9]+/, "").slice(0, rule.max);
	out = out.replace(/-+$/, "");
	return out !== "" && out !== value && rule.pattern.test(out) ? out : null;
}

/** `<what> must be <words>`, and `; try "<suggestion>"` when the value can be made to fit. */
export function nameRuleMessage(what: string, rule: NameRule, value: unknown): string {
	const suggestion = typeof value === "string" ? suggestName(value, rule) : null;
	return `${what} must be ${rule.words}${suggestion ? `; try "${suggestion}"` : ""}`;
}

export const SLUG_RULE: NameRule = {
	words: '1–64 characters: lower-case letters, digits, "-" and "_", starting with a letter or digit',
	pattern: /^[a-z0-9][a-z0-9_-]{0,63}$/,
	allowed: /^[a-z0-9_-]$/,
	max: 64,
};

export const TAG_RULE: NameRule = {
	words:
		'1–64 characters: lower-case letters, digits, "-", "_", ".", ":" and "/", starting with a letter or digit',
	pattern: /^[a-z0-9][a-z0-9_.:/-]{0,63}$/,
	allowed: /^[a-z0-9_.:/-]$/,
	max: 64,
};

/** A string schema for a name rule: the pattern stays in the OpenAPI document, the error is in words. */
export function nameSchema(what: string, rule: NameRule) {
	return z.string().regex(rule.pattern, { error: (issue) => nameRuleMessage(what, rule, issue.input) });
}

/** Annotation and dashboard tags. */
export const tagSchema = nameSchema("a tag", TAG_RULE);
