/**
 * OQL's reserved words (docs/oql.md, "Lexical rules"): they cannot name a field or an alias (an
 * alias may still be a quoted string). The lexer's list, and the web UI's for completion and
 * highlighting (web/src/views/query/oql.ts imports this file, so it imports nothing itself).
 */
export const KEYWORDS = [
	"SELECT",
	"FROM",
	"WHERE",
	"GROUP",
	"ORDER",
	"BY",
	"ASC",
	"DESC",
	"LIMIT",
	"LAST",
	"SINCE",
	"UNTIL",
	"AGO",
	"TIMESERIES",
	"AUTO",
	"AS",
	"AND",
	"OR",
	"NOT",
	"IN",
	"LIKE",
	"IS",
	"NULL",
	"CONTAINS",
	"MATCHES",
	"TRUE",
	"FALSE",
] as const;
