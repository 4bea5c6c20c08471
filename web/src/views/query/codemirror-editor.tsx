/**
 * The OQL editor on CodeMirror 6, loaded on demand (its own chunk): highlighting, completion of
 * sources, fields, attribute keys and functions, Ctrl/Cmd+Enter to run, and the API's error
 * position marked in the text.
 *
 * CSP: CodeMirror writes its styles at run time. In a document it adds a <style> element, which
 * `style-src 'self'` blocks; inside a shadow root it uses a constructed stylesheet
 * (adoptedStyleSheets), which CSP does not govern. So the editor lives in a shadow root: no nonce,
 * no 'unsafe-inline' (docs/ui.md, "The OQL editor and the CSP").
 */
import {
	autocompletion,
	type Completion,
	type CompletionContext,
	closeBrackets,
	closeBracketsKeymap,
	completionKeymap,
} from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { bracketMatching, HighlightStyle, StreamLanguage, syntaxHighlighting } from "@codemirror/language";
import { EditorState, Prec, StateEffect, StateField } from "@codemirror/state";
import {
	Decoration,
	type DecorationSet,
	EditorView,
	keymap,
	lineNumbers,
	placeholder,
} from "@codemirror/view";
import { tags } from "@lezer/highlight";
import { useEffect, useRef } from "preact/hooks";
import { type CompletionWords, OQL_FUNCTIONS, OQL_KEYWORDS, OQL_SOURCES, sourceOf } from "./oql";

export interface EditorError {
	line: number;
	column: number;
	message: string;
}

export interface OqlCodeEditorProps {
	label: string;
	value: string;
	onChange: (text: string) => void;
	onRun?: () => void;
	words: CompletionWords;
	error: EditorError | null;
	minLines?: number;
}

const KEYWORDS = new Set(OQL_KEYWORDS.map((k) => k.toLowerCase()));
const FUNCTIONS = new Set(OQL_FUNCTIONS.map(([f]) => f));

/** OQL's tokens (docs/oql.md, "Lexical rules") for highlighting. */
const oqlLanguage = StreamLanguage.define<{ inString: boolean }>({
	name: "oql",
	startState: () => ({ inString: false }),
	token(stream, state) {
		if (state.inString || stream.peek() === "'") {
			if (!state.inString) stream.next();
			state.inString = true;
			while (!stream.eol()) {
				const ch = stream.next();
				if (ch === "'") {
					if (stream.peek() === "'") stream.next();
					else {
						state.inString = false;
						break;
					}
				}
			}
			return "string";
		}
		if (stream.eatSpace()) return null;
		if (stream.match("--")) {
			stream.skipToEnd();
			return "comment";
		}
		if (stream.match(/^\d+(\.\d+)?([eE][+-]?\d+)?[a-z]*/) || stream.match(/^\.\d+/)) return "number";
		if (stream.match(/^\$[A-Za-z_]\w*/)) return "variableName.special";
		if (stream.match(/^[A-Za-z_]\w*/)) {
			const word = stream.current().toLowerCase();
			if (KEYWORDS.has(word)) return "keyword";
			if (FUNCTIONS.has(word) && stream.peek() === "(") return "variableName.function";
			if (OQL_SOURCES.includes(word)) return "typeName";
			return "variableName";
		}
		if (stream.match(/^(<>|!=|<=|>=|[=<>+\-*/])/)) return "operator";
		stream.next();
		return "punctuation";
	},
	languageData: { commentTokens: { line: "--" } },
});

const highlight = HighlightStyle.define([
	{ tag: tags.keyword, color: "var(--accent)", fontWeight: "600" },
	{ tag: tags.string, color: "var(--ok)" },
	{ tag: tags.number, color: "var(--warn)" },
	{ tag: tags.comment, color: "var(--muted)", fontStyle: "italic" },
	{ tag: tags.function(tags.variableName), color: "#ae3ec9" },
	{ tag: [tags.typeName], color: "#1098ad", fontWeight: "600" },
	{ tag: tags.special(tags.variableName), color: "#e64980" },
	{ tag: tags.operator, color: "var(--muted)" },
]);

const theme = EditorView.theme({
	"&": {
		backgroundColor: "var(--surface)",
		color: "var(--text)",
		border: "1px solid var(--border)",
		borderRadius: "var(--radius)",
		fontSize: "14px",
	},
	"&.cm-focused": { outline: "2px solid var(--focus)", outlineOffset: "1px" },
	".cm-content": { fontFamily: "var(--mono)", caretColor: "var(--text)" },
	".cm-gutters": { backgroundColor: "var(--surface-2)", color: "var(--muted)", border: "none" },
	".cm-tooltip": {
		backgroundColor: "var(--surface)",
		border: "1px solid var(--border)",
		color: "var(--text)",
	},
	".cm-tooltip-autocomplete ul li[aria-selected]": {
		backgroundColor: "var(--accent)",
		color: "var(--accent-text)",
	},
	".cm-completionDetail": { opacity: "0.7", marginLeft: "1em", fontStyle: "normal" },
	".oql-error-mark": { textDecoration: "underline wavy var(--danger)", backgroundColor: "var(--danger-bg)" },
	".oql-error-line": { backgroundColor: "var(--danger-bg)" },
	".cm-placeholder": { color: "var(--muted)" },
});

const setError = StateEffect.define<EditorError | null>();

/** The API's error position, marked: the word there underlined, its line tinted, the message on hover. */
const errorField = StateField.define<DecorationSet>({
	create: () => Decoration.none,
	update(marks, tr) {
		let next = marks.map(tr.changes);
		for (const effect of tr.effects) {
			if (!effect.is(setError)) continue;
			const error = effect.value;
			if (!error) {
				next = Decoration.none;
				continue;
			}
			const doc = tr.state.doc;
			const line = doc.line(Math.min(Math.max(error.line, 1), doc.lines));
			let from = Math.min(line.from + Math.max(error.column, 1) - 1, line.to);
			let to = from;
			while (to < line.to && /[\w$'.]/.test(doc.sliceString(to, to + 1))) to++;
			if (to === from) {
				if (to < line.to) to++;
				else if (from > line.from) from--;
			}
			const marksAt = [Decoration.line({ class: "oql-error-line" }).range(line.from)];
			if (to > from) {
				marksAt.push(
					Decoration.mark({ class: "oql-error-mark", attributes: { title: error.message } }).range(from, to),
				);
			}
			next = Decoration.set(marksAt, true);
		}
		return next;
	},
	provide: (field) => EditorView.decorations.from(field),
});

function completer(getWords: () => CompletionWords) {
	return (context: CompletionContext) => {
		const words = getWords();
		const source = sourceOf(context.state.doc.toString()) ?? "logs";
		// Inside attributes['… or resource['…: the keys ingest has seen.
		const inKey = context.matchBefore(/\b(attributes|resource)\['[^']*/);
		if (inKey) {
			const start = inKey.text.indexOf("['") + 2;
			const prefix = inKey.text.slice(0, inKey.text.indexOf("["));
			const options: Completion[] = (words.attributes[source] ?? [])
				.filter((a) => a.startsWith(`${prefix}['`))
				.map((a) => ({
					label: a.slice(prefix.length + 2, -2),
					apply: `${a.slice(prefix.length + 2)}`,
					type: "property",
				}));
			return { from: inKey.from + start, options, validFor: /^[^']*$/ };
		}
		const word = context.matchBefore(/[A-Za-z_$][\w]*/);
		if (!word && !context.explicit) return null;
		const from = word?.from ?? context.pos;
		const before = context.state.sliceDoc(0, from);
		if (/\bFROM\s+$/i.test(before)) {
			return { from, options: OQL_SOURCES.map((s) => ({ label: s, type: "type" })) };
		}
		const options: Completion[] = [
			...(words.fields[source] ?? []).map(([name, type]) => ({
				label: name,
				detail: type,
				type: "variable",
				boost: 2,
			})),
			...(words.attributes[source] ?? []).map((a) => ({
				label: a,
				detail: "attribute",
				type: "property",
				boost: 1,
			})),
			...OQL_FUNCTIONS.map(([name, detail]) => ({
				label: name,
				detail,
				type: "function",
				apply: `${name}(`,
			})),
			...OQL_KEYWORDS.map((k) => ({ label: k, type: "keyword", boost: -1 })),
			...OQL_SOURCES.map((s) => ({ label: s, type: "type", boost: -2 })),
		];
		return { from, options, validFor: /^\w*$/ };
	};
}

export default function OqlCodeEditor(props: OqlCodeEditorProps) {
	const host = useRef<HTMLDivElement>(null);
	const view = useRef<EditorView | null>(null);
	const latest = useRef(props);
	latest.current = props;

	useEffect(() => {
		const element = host.current;
		if (!element) return;
		const root = element.shadowRoot ?? element.attachShadow({ mode: "open" });
		const state = EditorState.create({
			doc: props.value,
			extensions: [
				Prec.highest(
					keymap.of([
						{
							key: "Mod-Enter",
							run: () => {
								latest.current.onRun?.();
								return true;
							},
						},
					]),
				),
				lineNumbers(),
				history(),
				closeBrackets(),
				bracketMatching(),
				oqlLanguage,
				syntaxHighlighting(highlight),
				autocompletion({ override: [completer(() => latest.current.words)], activateOnTyping: true }),
				keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap]),
				placeholder("SELECT count(*) FROM logs GROUP BY service TIMESERIES"),
				EditorView.lineWrapping,
				EditorView.contentAttributes.of({ "aria-label": props.label }),
				errorField,
				theme,
				EditorView.updateListener.of((update) => {
					if (update.docChanged) latest.current.onChange(update.state.doc.toString());
				}),
			],
		});
		view.current = new EditorView({ state, parent: root, root });
		view.current.dom.style.minHeight = `${(props.minLines ?? 4) * 1.4 + 0.6}em`;
		return () => {
			view.current?.destroy();
			view.current = null;
		};
	}, []);

	// A value set from outside (history, a saved query, the URL) replaces the text.
	useEffect(() => {
		const current = view.current;
		if (current && current.state.doc.toString() !== props.value) {
			current.dispatch({ changes: { from: 0, to: current.state.doc.length, insert: props.value } });
		}
	}, [props.value]);

	useEffect(() => {
		view.current?.dispatch({ effects: setError.of(props.error) });
	}, [props.error]);

	return <div class="oql-editor" ref={host} data-testid="oql-editor" />;
}
