import type {
	ArithmeticOp,
	CallArg,
	CompareOp,
	Duration,
	Expr,
	Literal,
	OrderItem,
	Query,
	SelectItem,
	TimePoint,
	TimeRange,
	Timeseries,
} from "./ast.js";
import { invalidQuery, nearest, type Position, syntaxError } from "./errors.js";
import {
	type DurationUnit,
	describeToken,
	type Keyword,
	type Operator,
	type Token,
	tokenize,
} from "./lexer.js";

/** Longer queries are refused before lexing (a query is a line or a screen, not a document). */
export const MAX_QUERY_LENGTH = 20_000;
/** Deeper expressions are refused, so no input can exhaust the stack of a later pass. */
export const MAX_EXPRESSION_DEPTH = 100;

/** Spelled-out units after a number, NRQL style: `LAST 2 hours`, `SINCE 1 day ago`. */
const UNIT_WORDS: Record<string, DurationUnit> = {
	second: "s",
	seconds: "s",
	sec: "s",
	secs: "s",
	minute: "m",
	minutes: "m",
	min: "m",
	mins: "m",
	hour: "h",
	hours: "h",
	day: "d",
	days: "d",
	week: "w",
	weeks: "w",
};

const COMPARE_OPS: ReadonlySet<string> = new Set(["=", "!=", "<>", "<", "<=", ">", ">="]);
const CLAUSE_WORDS = ["WHERE", "GROUP", "ORDER", "LIMIT", "LAST", "SINCE", "UNTIL", "TIMESERIES"];
type ClauseName = "GROUP BY" | "ORDER BY" | "LIMIT" | "time range" | "TIMESERIES";

/**
 * Parses one OQL query into its syntax tree. Throws an OqlError: `oql_syntax_error` with the
 * position of the offending token, or `oql_invalid_query` for a query over MAX_QUERY_LENGTH.
 */
export function parse(source: string): Query {
	if (source.length > MAX_QUERY_LENGTH) {
		throw invalidQuery(`The query is too long: at most ${MAX_QUERY_LENGTH} characters`);
	}
	return new Parser(tokenize(source)).query();
}

class Parser {
	private index = 0;
	private depth = 0;

	constructor(private readonly tokens: Token[]) {}

	// ---- tokens ----

	private get token(): Token {
		return this.tokens[this.index] as Token;
	}

	private peek(ahead = 1): Token {
		return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)] as Token;
	}

	private next(): Token {
		const token = this.token;
		if (token.kind !== "eof") this.index++;
		return token;
	}

	private isKeyword(keyword: Keyword, token: Token = this.token): boolean {
		return token.kind === "keyword" && token.keyword === keyword;
	}

	private isOp(op: Operator, token: Token = this.token): boolean {
		return token.kind === "op" && token.op === op;
	}

	private acceptKeyword(keyword: Keyword): boolean {
		if (!this.isKeyword(keyword)) return false;
		this.next();
		return true;
	}

	private acceptOp(op: Operator): boolean {
		if (!this.isOp(op)) return false;
		this.next();
		return true;
	}

	private expectKeyword(keyword: Keyword, context = ""): Token {
		if (this.isKeyword(keyword)) return this.next();
		throw this.unexpected(keyword + context, [keyword]);
	}

	private expectOp(op: Operator, context = ""): Token {
		if (this.isOp(op)) return this.next();
		throw this.unexpected(`'${op}'${context}`);
	}

	/** "Expected X, found Y", with a keyword suggestion when Y is a word close to one expected. */
	private unexpected(expected: string, keywords: string[] = [], token: Token = this.token) {
		let hint = "";
		if (token.kind === "ident" && keywords.length > 0) {
			const suggestion = nearest(token.text, keywords);
			if (suggestion) hint = `. Did you mean ${suggestion}?`;
		}
		return syntaxError(`Expected ${expected}, found ${describeToken(token)}${hint}`, token.pos);
	}

	// ---- query and clauses ----

	query(): Query {
		const pos = this.token.pos;
		this.expectKeyword("SELECT", " at the start of the query");
		const select = this.selectList();
		this.expectKeyword("FROM", " after the selected items (or ',' before another item)");
		const from = this.source();
		const where = this.acceptKeyword("WHERE") ? this.expression() : null;
		const query: Query = {
			select,
			from,
			where,
			groupBy: [],
			orderBy: [],
			limit: null,
			range: null,
			timeseries: null,
			pos,
		};
		this.clauses(query);
		return query;
	}

	/** After WHERE, the other clauses may come in any order (as in NRQL), each at most once. */
	private clauses(query: Query): void {
		const seen = new Map<ClauseName, Position>();
		const once = (name: ClauseName, token: Token) => {
			const earlier = seen.get(name);
			if (earlier) {
				throw syntaxError(
					`A query has one ${name} clause; another began at line ${earlier.line}, column ${earlier.column}`,
					token.pos,
				);
			}
			seen.set(name, token.pos);
		};
		for (;;) {
			const token = this.token;
			if (token.kind === "eof") return;
			if (this.isKeyword("GROUP")) {
				once("GROUP BY", token);
				this.next();
				this.expectKeyword("BY", " after GROUP");
				query.groupBy = this.list(() => this.expression());
			} else if (this.isKeyword("ORDER")) {
				once("ORDER BY", token);
				this.next();
				this.expectKeyword("BY", " after ORDER");
				query.orderBy = this.list(() => this.orderItem());
			} else if (this.isKeyword("LIMIT")) {
				once("LIMIT", token);
				this.next();
				query.limit = this.limitValue();
			} else if (this.isKeyword("LAST") || this.isKeyword("SINCE")) {
				once("time range", token);
				query.range = this.timeRange();
			} else if (this.isKeyword("TIMESERIES")) {
				once("TIMESERIES", token);
				query.timeseries = this.timeseries();
			} else if (this.isKeyword("UNTIL")) {
				throw syntaxError("UNTIL comes after SINCE: SINCE <time> UNTIL <time>", token.pos);
			} else if (this.isKeyword("WHERE")) {
				throw syntaxError("WHERE must come right after FROM <source>", token.pos);
			} else if (this.isKeyword("FROM") || this.isKeyword("SELECT")) {
				throw syntaxError(`A query has one ${token.text.toUpperCase()}`, token.pos);
			} else if (this.isOp(")")) {
				throw syntaxError("Unbalanced ')': no '(' is open here", token.pos);
			} else if (token.kind === "ident" && this.isOp("(", this.peek())) {
				throw syntaxError(
					`Unexpected function call ${token.text}(…) here; functions belong in SELECT`,
					token.pos,
				);
			} else {
				throw this.unexpected(
					"a clause (GROUP BY, ORDER BY, LIMIT, LAST, SINCE, TIMESERIES) or the end of the query",
					CLAUSE_WORDS,
				);
			}
		}
	}

	private list<T>(item: () => T): T[] {
		const items = [item()];
		while (this.acceptOp(",")) items.push(item());
		return items;
	}

	private selectList(): SelectItem[] {
		return this.list(() => this.selectItem());
	}

	private selectItem(): SelectItem {
		const token = this.token;
		if (this.isOp("*")) {
			this.next();
			return { kind: "star", pos: token.pos };
		}
		if (this.isKeyword("FROM"))
			throw this.unexpected("an item to select (a field, *, or a function such as count(*))");
		const expr = this.expression();
		let alias: string | null = null;
		if (this.acceptKeyword("AS")) {
			const name = this.token;
			if (name.kind === "ident") alias = name.text;
			else if (name.kind === "string") alias = name.value;
			else throw this.unexpected("a name after AS (a word, or a 'quoted name')");
			if (alias === "") throw syntaxError("An alias cannot be empty", name.pos);
			this.next();
		} else if (this.token.kind === "ident" && !this.isOp("(", this.peek())) {
			const suggestion = nearest(this.token.text, ["FROM"]);
			if (suggestion) throw this.unexpected("FROM", ["FROM"]);
			throw syntaxError(
				`Unexpected ${describeToken(this.token)}: write AS to name an item (… AS ${this.token.text})`,
				this.token.pos,
			);
		}
		return { kind: "expr", expr, alias, pos: token.pos };
	}

	private source(): Query["from"] {
		const token = this.token;
		if (token.kind !== "ident") {
			throw this.unexpected("a source after FROM (logs, spans, traces, metrics, annotations, heartbeats)");
		}
		this.next();
		return { name: token.name, pos: token.pos };
	}

	private orderItem(): OrderItem {
		const pos = this.token.pos;
		const expr = this.expression();
		let direction: "asc" | "desc" = "asc";
		if (this.acceptKeyword("DESC")) direction = "desc";
		else this.acceptKeyword("ASC");
		return { expr, direction, pos };
	}

	private limitValue(): { value: number; pos: Position } {
		const token = this.token;
		if (token.kind !== "number" || !token.isInteger) throw this.unexpected("a whole number after LIMIT");
		this.next();
		return { value: token.value, pos: token.pos };
	}

	/** `5m`, or NRQL's `5 minutes`. */
	private duration(context: string): Duration {
		const token = this.token;
		if (token.kind === "duration") {
			this.next();
			return { value: token.value, unit: token.unit, pos: token.pos };
		}
		if (token.kind === "number" && token.isInteger) {
			const unitToken = this.peek();
			const unit =
				unitToken.kind === "ident" && Object.hasOwn(UNIT_WORDS, unitToken.name)
					? UNIT_WORDS[unitToken.name]
					: undefined;
			if (unit) {
				this.next();
				this.next();
				return { value: token.value, unit, pos: token.pos };
			}
			throw syntaxError(
				`Expected a unit after ${token.text} ${context} (s, m, h, d or w, as in ${token.text}m)`,
				unitToken.pos,
			);
		}
		throw this.unexpected(`a duration ${context} (such as 5m, 1h, 7d)`);
	}

	private timeRange(): TimeRange {
		const token = this.next();
		if (token.kind === "keyword" && token.keyword === "LAST") {
			return { kind: "last", duration: this.duration("after LAST"), pos: token.pos };
		}
		const since = this.timePoint("SINCE");
		const until = this.acceptKeyword("UNTIL") ? this.timePoint("UNTIL") : null;
		return { kind: "since", since, until, pos: token.pos };
	}

	private timePoint(keyword: "SINCE" | "UNTIL"): TimePoint {
		const token = this.token;
		if (token.kind === "string") {
			this.next();
			return { kind: "timestamp", text: token.value, pos: token.pos };
		}
		if (token.kind === "duration" || token.kind === "number") {
			const duration = this.duration(`after ${keyword}`);
			if (!this.acceptKeyword("AGO")) {
				throw this.unexpected(`AGO (${keyword} ${describeDuration(duration)} ago)`, ["AGO"]);
			}
			return { kind: "ago", duration, pos: token.pos };
		}
		throw this.unexpected(`a time after ${keyword}: an RFC 3339 string ('2026-01-31T00:00:00Z') or 2h ago`);
	}

	private timeseries(): Timeseries {
		const token = this.next();
		if (this.isKeyword("AUTO")) {
			this.next();
			return { kind: "auto", pos: token.pos };
		}
		if (this.token.kind === "eof" || this.token.kind === "keyword") return { kind: "auto", pos: token.pos };
		return { kind: "interval", interval: this.duration("after TIMESERIES"), pos: token.pos };
	}

	// ---- expressions, lowest precedence first ----

	expression(): Expr {
		const expr = this.or();
		if (this.depth === 0) checkDepth(expr);
		return expr;
	}

	private or(): Expr {
		let left = this.and();
		while (this.isKeyword("OR")) {
			const pos = this.next().pos;
			left = { kind: "or", left, right: this.and(), pos };
		}
		return left;
	}

	private and(): Expr {
		let left = this.not();
		while (this.isKeyword("AND")) {
			const pos = this.next().pos;
			left = { kind: "and", left, right: this.not(), pos };
		}
		return left;
	}

	private not(): Expr {
		if (this.isKeyword("NOT")) {
			const pos = this.next().pos;
			return { kind: "not", operand: this.nested(() => this.not()), pos };
		}
		return this.predicate();
	}

	private predicate(): Expr {
		const operand = this.additive();
		const token = this.token;
		const pos = token.pos;
		if (token.kind === "op" && COMPARE_OPS.has(token.op)) {
			this.next();
			const op = (token.op === "<>" ? "!=" : token.op) as CompareOp;
			const right = this.additive();
			if (this.token.kind === "op" && COMPARE_OPS.has(this.token.op)) {
				throw syntaxError("Comparisons cannot be chained: join them with AND", this.token.pos);
			}
			return { kind: "compare", op, left: operand, right, pos };
		}
		if (this.isKeyword("IS")) {
			this.next();
			const negated = this.acceptKeyword("NOT");
			this.expectKeyword("NULL", negated ? " after IS NOT" : " after IS");
			return { kind: "isNull", operand, negated, pos };
		}
		const negated = this.isKeyword("NOT");
		const after = negated ? this.peek() : token;
		if (after.kind === "keyword") {
			switch (after.keyword) {
				case "IN":
					if (negated) this.next();
					this.next();
					return { kind: "in", operand, negated, values: this.inList(), pos };
				case "LIKE":
				case "CONTAINS":
				case "MATCHES": {
					if (negated) this.next();
					this.next();
					const kind =
						after.keyword === "LIKE" ? "like" : after.keyword === "CONTAINS" ? "contains" : "matches";
					return { kind, operand, negated, pattern: this.stringLiteral(after.keyword), pos };
				}
			}
		}
		if (negated) {
			throw this.unexpected("IN, LIKE, CONTAINS or MATCHES after NOT", [], this.peek());
		}
		return operand;
	}

	private inList(): Literal[] {
		this.expectOp("(", " after IN");
		if (this.isOp(")")) throw syntaxError("IN needs at least one value: IN ('a', 'b')", this.token.pos);
		const values = this.list(() => this.literal("in an IN list"));
		this.expectOp(")", " to close the IN list (or ',' before another value)");
		return values;
	}

	private stringLiteral(keyword: string): Literal {
		const token = this.token;
		if (token.kind === "variable") {
			this.next();
			return { kind: "variable", name: token.name, pos: token.pos };
		}
		if (token.kind !== "string") throw this.unexpected(`a 'quoted string' after ${keyword} (or a $variable)`);
		this.next();
		return { kind: "string", value: token.value, pos: token.pos };
	}

	/** A constant: a string, a number (a leading minus allowed), TRUE, FALSE or a $variable. */
	private literal(context: string): Literal {
		const token = this.token;
		if (token.kind === "string") {
			this.next();
			return { kind: "string", value: token.value, pos: token.pos };
		}
		if (token.kind === "variable") {
			this.next();
			return { kind: "variable", name: token.name, pos: token.pos };
		}
		if (this.isKeyword("TRUE") || this.isKeyword("FALSE")) {
			this.next();
			return { kind: "bool", value: this.isKeyword("TRUE", token), pos: token.pos };
		}
		const number = this.isOp("-") ? this.peek() : token;
		if (number.kind === "number") {
			const negative = this.isOp("-");
			if (negative) this.next();
			this.next();
			return { kind: "number", value: negative ? negativeOf(number.value) : number.value, pos: token.pos };
		}
		throw this.unexpected(`a constant ${context} (a 'string', a number, TRUE or FALSE)`);
	}

	private additive(): Expr {
		let left = this.multiplicative();
		while (this.isOp("+") || this.isOp("-")) {
			const token = this.next() as Token & { op: ArithmeticOp };
			left = { kind: "arithmetic", op: token.op, left, right: this.multiplicative(), pos: token.pos };
		}
		return left;
	}

	private multiplicative(): Expr {
		let left = this.unary();
		while (this.isOp("*") || this.isOp("/")) {
			const token = this.next() as Token & { op: ArithmeticOp };
			left = { kind: "arithmetic", op: token.op, left, right: this.unary(), pos: token.pos };
		}
		return left;
	}

	/** A minus right before a number is part of the number: `-5` is the constant -5. */
	private unary(): Expr {
		if (this.isOp("-")) {
			const pos = this.next().pos;
			const token = this.token;
			if (token.kind === "number") {
				this.next();
				return { kind: "number", value: negativeOf(token.value), pos };
			}
			return { kind: "negate", operand: this.nested(() => this.unary()), pos };
		}
		if (this.isOp("+")) throw syntaxError("Unexpected '+': a number needs no plus sign", this.token.pos);
		return this.primary();
	}

	private nested<T>(parse: () => T): T {
		this.depth++;
		try {
			if (this.depth > MAX_EXPRESSION_DEPTH) {
				throw syntaxError(
					`The expression is nested too deeply (at most ${MAX_EXPRESSION_DEPTH} levels)`,
					this.token.pos,
				);
			}
			return parse();
		} finally {
			this.depth--;
		}
	}

	private primary(): Expr {
		const token = this.token;
		switch (token.kind) {
			case "number":
				this.next();
				return { kind: "number", value: token.value, pos: token.pos };
			case "string":
				this.next();
				return { kind: "string", value: token.value, pos: token.pos };
			case "duration":
				this.next();
				return {
					kind: "duration",
					duration: { value: token.value, unit: token.unit, pos: token.pos },
					pos: token.pos,
				};
			case "attribute":
				this.next();
				return { kind: "attribute", map: token.map, key: token.key, pos: token.pos };
			case "variable":
				this.next();
				return { kind: "variable", name: token.name, pos: token.pos };
			case "ident":
				this.next();
				if (this.isOp("(")) return this.call(token);
				return { kind: "field", name: token.name, pos: token.pos };
			case "keyword":
				if (token.keyword === "TRUE" || token.keyword === "FALSE") {
					this.next();
					return { kind: "bool", value: token.keyword === "TRUE", pos: token.pos };
				}
				if (token.keyword === "NULL") {
					throw syntaxError("NULL is only used in IS NULL and IS NOT NULL", token.pos);
				}
				break;
			case "op":
				if (token.op === "(") {
					this.next();
					const inner = this.nested(() => this.expression());
					this.expectOp(")", " to close '('");
					return inner;
				}
				break;
		}
		throw this.unexpected("a field, a constant, a function call or '('");
	}

	private call(name: Token & { kind: "ident" }): Expr {
		this.expectOp("(");
		const args: CallArg[] = [];
		if (!this.isOp(")")) {
			args.push(...this.list<CallArg>(() => this.callArg()));
		}
		this.expectOp(")", ` to close ${name.text}( (or ',' before another argument)`);
		return { kind: "call", name: name.name, args, pos: name.pos };
	}

	private callArg(): CallArg {
		const token = this.token;
		if (this.isOp("*") && (this.isOp(")", this.peek()) || this.isOp(",", this.peek()))) {
			this.next();
			return { kind: "star", pos: token.pos };
		}
		return this.nested(() => this.expression());
	}
}

function negativeOf(value: number): number {
	return value === 0 ? 0 : -value;
}

function describeDuration(duration: Duration): string {
	return `${duration.value}${duration.unit}`;
}

/** Long operator chains nest to the left without recursion in the parser; bound them here. */
function checkDepth(expr: Expr): void {
	const stack: [Expr, number][] = [[expr, 1]];
	for (;;) {
		const entry = stack.pop();
		if (!entry) return;
		const [node, depth] = entry;
		if (depth > MAX_EXPRESSION_DEPTH) {
			throw syntaxError(
				`The expression is nested too deeply (at most ${MAX_EXPRESSION_DEPTH} levels)`,
				node.pos,
			);
		}
		for (const child of childrenOf(node)) stack.push([child, depth + 1]);
	}
}

/** The direct sub-expressions of a node (the star of count(*) is not one). */
export function childrenOf(expr: Expr): Expr[] {
	switch (expr.kind) {
		case "arithmetic":
		case "compare":
		case "and":
		case "or":
			return [expr.left, expr.right];
		case "negate":
		case "not":
		case "isNull":
			return [expr.operand];
		case "in":
			return [expr.operand, ...expr.values];
		case "like":
		case "contains":
		case "matches":
			return [expr.operand, expr.pattern];
		case "call":
			return expr.args.filter((arg): arg is Expr => arg.kind !== "star");
		default:
			return [];
	}
}
