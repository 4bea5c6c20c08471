import { type Position, syntaxError } from "./errors.js";
import { KEYWORDS } from "./keywords.js";

export { KEYWORDS };
export type Keyword = (typeof KEYWORDS)[number];
const KEYWORD_SET: ReadonlySet<string> = new Set(KEYWORDS);

export function isKeyword(word: string): boolean {
	return KEYWORD_SET.has(word.toUpperCase());
}

export const DURATION_UNITS = ["s", "m", "h", "d", "w"] as const;
export type DurationUnit = (typeof DURATION_UNITS)[number];

export type Operator = "(" | ")" | "," | "*" | "+" | "-" | "/" | "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=";

/** `attributes['k']` and `resource['k']` are one token each: the map and its key. */
export type AttributeMap = "attributes" | "resource";

export type Token =
	| { kind: "keyword"; keyword: Keyword; text: string; pos: Position }
	| { kind: "ident"; name: string; text: string; pos: Position }
	| { kind: "string"; value: string; text: string; pos: Position }
	| { kind: "number"; value: number; isInteger: boolean; text: string; pos: Position }
	| { kind: "duration"; value: number; unit: DurationUnit; text: string; pos: Position }
	| { kind: "attribute"; map: AttributeMap; key: string; text: string; pos: Position }
	/** `$service`: a variable, bound to a string value before the query is checked (variables.ts). */
	| { kind: "variable"; name: string; text: string; pos: Position }
	| { kind: "op"; op: Operator; text: string; pos: Position }
	| { kind: "eof"; text: string; pos: Position };

const TWO_CHAR_OPS = new Set(["!=", "<>", "<=", ">="]);
const ONE_CHAR_OPS = new Set(["(", ")", ",", "*", "+", "-", "/", "=", "<", ">"]);

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const isIdentStart = (c: string | undefined) =>
	c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_");
const isIdentPart = (c: string | undefined) => isIdentStart(c) || isDigit(c);
const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";

/** Turns OQL text into tokens, each with its line and column; the last token is `eof`. */
export function tokenize(source: string): Token[] {
	return new Lexer(source).run();
}

class Lexer {
	private offset = 0;
	private line = 1;
	private column = 1;
	private readonly tokens: Token[] = [];

	constructor(private readonly source: string) {}

	run(): Token[] {
		for (;;) {
			this.skipSpaceAndComments();
			const pos = this.position();
			const c = this.source[this.offset];
			if (c === undefined) {
				this.tokens.push({ kind: "eof", text: "", pos });
				return this.tokens;
			}
			if (c === "'") this.tokens.push(this.string(pos));
			else if (isDigit(c) || (c === "." && isDigit(this.source[this.offset + 1])))
				this.tokens.push(this.number(pos));
			else if (isIdentStart(c)) this.tokens.push(this.word(pos));
			else if (c === "$") this.tokens.push(this.variable(pos));
			else this.tokens.push(this.operator(pos));
		}
	}

	private position(): Position {
		return { line: this.line, column: this.column };
	}

	/** Moves on one UTF-16 unit, keeping line and column (a surrogate pair counts as one column). */
	private advance(): void {
		const c = this.source[this.offset];
		this.offset++;
		if (c === "\n" || (c === "\r" && this.source[this.offset] !== "\n")) {
			this.line++;
			this.column = 1;
			return;
		}
		const next = this.source.charCodeAt(this.offset);
		const isLowSurrogate = next >= 0xdc00 && next <= 0xdfff;
		const code = this.source.charCodeAt(this.offset - 1);
		if (!(isLowSurrogate && code >= 0xd800 && code <= 0xdbff)) this.column++;
	}

	private skipSpaceAndComments(): void {
		for (;;) {
			const c = this.source[this.offset];
			if (isSpace(c)) this.advance();
			else if (c === "-" && this.source[this.offset + 1] === "-") {
				while (this.offset < this.source.length && this.source[this.offset] !== "\n") this.advance();
			} else return;
		}
	}

	private string(pos: Position): Token {
		const start = this.offset;
		this.advance();
		let value = "";
		for (;;) {
			const c = this.source[this.offset];
			if (c === undefined) throw syntaxError("Unterminated string: a closing ' is missing", pos);
			this.advance();
			if (c === "'") {
				if (this.source[this.offset] !== "'") break;
				value += "'";
				this.advance();
			} else value += c;
		}
		return { kind: "string", value, text: this.source.slice(start, this.offset), pos };
	}

	private number(pos: Position): Token {
		const start = this.offset;
		let isInteger = true;
		while (isDigit(this.source[this.offset])) this.advance();
		if (this.source[this.offset] === "." && isDigit(this.source[this.offset + 1])) {
			isInteger = false;
			this.advance();
			while (isDigit(this.source[this.offset])) this.advance();
		}
		const e = this.source[this.offset];
		if (e === "e" || e === "E") {
			const sign = this.source[this.offset + 1];
			const digitAt = sign === "+" || sign === "-" ? this.offset + 2 : this.offset + 1;
			if (isDigit(this.source[digitAt])) {
				isInteger = false;
				while (this.offset < digitAt) this.advance();
				while (isDigit(this.source[this.offset])) this.advance();
			}
		}
		const digits = this.source.slice(start, this.offset);
		if (isIdentStart(this.source[this.offset])) {
			const unitStart = this.offset;
			while (isIdentPart(this.source[this.offset])) this.advance();
			const unit = this.source.slice(unitStart, this.offset);
			const text = this.source.slice(start, this.offset);
			if (!isInteger || !(DURATION_UNITS as readonly string[]).includes(unit.toLowerCase())) {
				throw syntaxError(
					`Invalid number or duration '${text}': a duration is a whole number and one of the units s, m, h, d, w (e.g. 5m)`,
					pos,
				);
			}
			const value = Number(digits);
			if (!Number.isSafeInteger(value)) throw syntaxError(`Duration '${text}' is too large`, pos);
			return { kind: "duration", value, unit: unit.toLowerCase() as DurationUnit, text, pos };
		}
		const value = Number(digits);
		if (!Number.isFinite(value)) throw syntaxError(`Number '${digits}' is too large`, pos);
		if (isInteger && !Number.isSafeInteger(value)) {
			throw syntaxError(`Integer '${digits}' is too large; write it with an exponent (e.g. 1e20)`, pos);
		}
		return { kind: "number", value, isInteger, text: digits, pos };
	}

	private word(pos: Position): Token {
		const start = this.offset;
		while (isIdentPart(this.source[this.offset])) this.advance();
		const text = this.source.slice(start, this.offset);
		const upper = text.toUpperCase();
		if (KEYWORD_SET.has(upper)) return { kind: "keyword", keyword: upper as Keyword, text, pos };
		const lower = text.toLowerCase();
		if (lower === "attributes" || lower === "resource") {
			const attribute = this.attributeAccess(lower, start, pos);
			if (attribute) return attribute;
		}
		return { kind: "ident", name: lower, text, pos };
	}

	/** `$name`: a dollar sign and a word, no space between. */
	private variable(pos: Position): Token {
		const start = this.offset;
		this.advance();
		if (!isIdentStart(this.source[this.offset])) {
			throw syntaxError("Expected a variable name after $, as in $service", pos);
		}
		while (isIdentPart(this.source[this.offset])) this.advance();
		const text = this.source.slice(start, this.offset);
		return { kind: "variable", name: text.slice(1), text, pos };
	}

	/** After `attributes` or `resource`: `['key']` (spaces allowed) makes one token; anything else is a plain word. */
	private attributeAccess(map: AttributeMap, start: number, pos: Position): Token | null {
		const saved = { offset: this.offset, line: this.line, column: this.column };
		this.skipSpaceAndComments();
		if (this.source[this.offset] !== "[") {
			this.offset = saved.offset;
			this.line = saved.line;
			this.column = saved.column;
			return null;
		}
		this.advance();
		this.skipSpaceAndComments();
		const keyPos = this.position();
		if (this.source[this.offset] !== "'") {
			throw syntaxError(`Expected a quoted key after ${map}[, as in ${map}['http.route']`, keyPos);
		}
		const key = this.string(keyPos);
		this.skipSpaceAndComments();
		if (this.source[this.offset] !== "]") {
			throw syntaxError(`Expected ] to close ${map}[${key.text}`, this.position());
		}
		this.advance();
		const value = key.kind === "string" ? key.value : "";
		return { kind: "attribute", map, key: value, text: this.source.slice(start, this.offset), pos };
	}

	private operator(pos: Position): Token {
		const two = this.source.slice(this.offset, this.offset + 2);
		if (TWO_CHAR_OPS.has(two)) {
			this.advance();
			this.advance();
			return { kind: "op", op: two as Operator, text: two, pos };
		}
		const c = this.source[this.offset] ?? "";
		if (ONE_CHAR_OPS.has(c)) {
			this.advance();
			return { kind: "op", op: c as Operator, text: c, pos };
		}
		if (c === '"' || c === "`") {
			throw syntaxError(
				`Unexpected ${c}: strings use single quotes ('text'), attribute keys attributes['key']`,
				pos,
			);
		}
		if (c === "[")
			throw syntaxError("Unexpected [: only attributes['key'] and resource['key'] take a key", pos);
		if (c === ";") throw syntaxError("Unexpected ;: a request holds one query, without a semicolon", pos);
		const codePoint = this.source.codePointAt(this.offset) ?? 0;
		const shown =
			codePoint < 0x20 || codePoint === 0x7f
				? `U+${codePoint.toString(16).padStart(4, "0")}`
				: String.fromCodePoint(codePoint);
		throw syntaxError(`Unexpected character '${shown}'`, pos);
	}
}

/** How a token reads in an error message. */
export function describeToken(token: Token): string {
	switch (token.kind) {
		case "eof":
			return "the end of the query";
		case "keyword":
			return token.keyword;
		case "ident":
			return `'${token.text}'`;
		case "string":
			return `the string ${truncate(token.text)}`;
		case "number":
		case "duration":
			return token.text;
		case "attribute":
			return truncate(token.text);
		case "variable":
			return `the variable ${truncate(token.text)}`;
		case "op":
			return `'${token.op}'`;
	}
}

function truncate(text: string): string {
	return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}
