/**
 * The OQL editor: a native <textarea> over a highlighted copy of its text (docs/ui.md, "The OQL
 * editor"). The textarea keeps everything a browser gives a text box — caret, selection, undo,
 * IME, spell-check off, screen readers — and is transparent; the <pre> behind it shows the same
 * text with OQL's tokens coloured and the API's error position underlined. Both have the same
 * font, padding and wrapping, and the <pre> sets the height, so they never drift apart.
 *
 * Completion of sources, fields, attribute keys, functions and keywords is a listbox under the
 * caret (typing a word, or Ctrl+Space): arrows choose, Enter or Tab accept, Escape closes.
 * Ctrl/Cmd+Enter runs the query. Everything is styled from explore.css (no inline <style>: CSP).
 */
import { useId, useLayoutEffect, useRef, useState } from "preact/hooks";
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

type TokenKind =
	| "keyword"
	| "string"
	| "number"
	| "comment"
	| "function"
	| "source"
	| "variable"
	| "operator";

interface Token {
	from: number;
	to: number;
	kind: TokenKind | null;
}

const KEYWORDS = new Set(OQL_KEYWORDS.map((k) => k.toLowerCase()));
const FUNCTIONS = new Set(OQL_FUNCTIONS.map(([f]) => f));
const SOURCES = new Set(OQL_SOURCES);

/**
 * OQL's tokens (docs/oql.md, "Lexical rules") for colouring. Tolerant where the server's lexer is
 * strict: an unterminated string runs to the end, anything unknown is plain text.
 */
const TOKEN =
	/'(?:[^']|'')*'?|--[^\n]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-z]*|\.\d+|\$[A-Za-z_]\w*|[A-Za-z_]\w*|<>|!=|<=|>=|[=<>+\-*/]/g;

export function tokenize(text: string): Token[] {
	const tokens: Token[] = [];
	let at = 0;
	for (const match of text.matchAll(TOKEN)) {
		const from = match.index ?? 0;
		const word = match[0];
		if (from > at) tokens.push({ from: at, to: from, kind: null });
		const first = word[0] as string;
		let kind: TokenKind | null;
		if (first === "'") kind = "string";
		else if (word.startsWith("--")) kind = "comment";
		else if (/[\d.]/.test(first)) kind = "number";
		else if (first === "$") kind = "variable";
		else if (/[A-Za-z_]/.test(first)) {
			const lower = word.toLowerCase();
			if (KEYWORDS.has(lower)) kind = "keyword";
			else if (FUNCTIONS.has(lower) && text[from + word.length] === "(") kind = "function";
			else if (SOURCES.has(lower)) kind = "source";
			else kind = null;
		} else kind = "operator";
		tokens.push({ from, to: from + word.length, kind });
		at = from + word.length;
	}
	if (at < text.length) tokens.push({ from: at, to: text.length, kind: null });
	return tokens;
}

/** The characters the API's error position points at: the word there, or one character. */
export function errorRange(text: string, error: EditorError): [number, number] | null {
	const lines = text.split("\n");
	const lineIndex = Math.min(Math.max(error.line, 1), lines.length) - 1;
	let lineStart = 0;
	for (let i = 0; i < lineIndex; i++) lineStart += (lines[i] as string).length + 1;
	const lineEnd = lineStart + (lines[lineIndex] as string).length;
	let from = Math.min(lineStart + Math.max(error.column, 1) - 1, lineEnd);
	let to = from;
	while (to < lineEnd && /[\w$'.]/.test(text[to] as string)) to++;
	if (to === from) {
		if (to < lineEnd) to++;
		else if (from > lineStart) from--;
	}
	return to > from ? [from, to] : null;
}

interface Option {
	label: string;
	detail?: string;
	/** The text that replaces the typed prefix (default: the label). */
	apply?: string;
	boost: number;
}

interface Completion {
	/** Where the replaced text starts. */
	from: number;
	options: Option[];
}

const MAX_OPTIONS = 50;

/** What to offer at the caret, or null. `explicit`: asked for with Ctrl+Space. */
export function complete(
	text: string,
	caret: number,
	words: CompletionWords,
	explicit: boolean,
): Completion | null {
	const before = text.slice(0, caret);
	const source = sourceOf(text) ?? "logs";
	// Inside attributes['… or resource['…: the keys ingest has seen.
	const inKey = /\b(attributes|resource)\['([^'\n]*)$/.exec(before);
	if (inKey) {
		const prefix = inKey[1] as string;
		const typed = inKey[2] as string;
		const options = (words.attributes[source] ?? [])
			.filter((a) => a.startsWith(`${prefix}['`))
			.map((a) => {
				const key = a.slice(prefix.length + 2, -2);
				return { label: key, apply: `${key}']`, boost: 0 };
			});
		return rank(caret - typed.length, typed, options);
	}
	const word = /[A-Za-z_$][\w]*$/.exec(before);
	if (!word && !explicit) return null;
	const typed = word?.[0] ?? "";
	const from = caret - typed.length;
	if (/\bFROM\s+$/i.test(text.slice(0, from))) {
		return rank(
			from,
			typed,
			OQL_SOURCES.map((s) => ({ label: s, detail: "source", boost: 0 })),
		);
	}
	const options: Option[] = [
		...(words.fields[source] ?? []).map(([name, type]) => ({ label: name, detail: type, boost: 2 })),
		...(words.attributes[source] ?? []).map((a) => ({ label: a, detail: "attribute", boost: 1 })),
		...OQL_FUNCTIONS.map(([name, detail]) => ({ label: name, detail, apply: `${name}(`, boost: 0 })),
		...OQL_KEYWORDS.map((k) => ({ label: k, detail: "keyword", boost: -1 })),
		...OQL_SOURCES.map((s) => ({ label: s, detail: "source", boost: -2 })),
	];
	return rank(from, typed, options);
}

/** Options that start with what was typed, then those that contain it; each group by boost. */
function rank(from: number, typed: string, options: Option[]): Completion | null {
	const needle = typed.toLowerCase();
	const scored: Array<[number, Option]> = [];
	const seen = new Set<string>();
	for (const option of options) {
		if (seen.has(option.label)) continue;
		const at = option.label.toLowerCase().indexOf(needle);
		if (at < 0 || (needle !== "" && option.label.toLowerCase() === needle)) continue;
		seen.add(option.label);
		scored.push([(at === 0 ? 100 : 0) + option.boost, option]);
	}
	if (scored.length === 0) return null;
	scored.sort((a, b) => b[0] - a[0] || a[1].label.localeCompare(b[1].label));
	return { from, options: scored.slice(0, MAX_OPTIONS).map(([, option]) => option) };
}

/** The highlighted copy: token spans, with the error range split out and marked. */
function Highlighted({ text, error }: { text: string; error: EditorError | null }) {
	const marked = error ? errorRange(text, error) : null;
	const parts: Array<preact.JSX.Element | string> = [];
	for (const token of tokenize(text)) {
		const cuts = [token.from, token.to];
		if (marked) {
			for (const edge of marked) if (edge > token.from && edge < token.to) cuts.splice(-1, 0, edge);
		}
		for (let i = 0; i + 1 < cuts.length; i++) {
			const from = cuts[i] as number;
			const to = cuts[i + 1] as number;
			const inError = marked !== null && from >= marked[0] && to <= marked[1];
			const classes = [token.kind ? `tok-${token.kind}` : "", inError ? "oql-error-mark" : ""]
				.join(" ")
				.trim();
			const piece = text.slice(from, to);
			parts.push(classes ? <span class={classes}>{piece}</span> : piece);
		}
	}
	// A trailing newline needs a character after it to take up its line.
	parts.push(" ");
	return <>{parts}</>;
}

/** The caret's position in the highlighted copy, relative to the editor's box. */
function caretPoint(
	pre: HTMLElement,
	box: HTMLElement,
	offset: number,
): { left: number; top: number } | null {
	const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
	let rest = offset;
	for (let node = walker.nextNode(); node; node = walker.nextNode()) {
		const length = (node.nodeValue ?? "").length;
		if (rest <= length) {
			const range = document.createRange();
			range.setStart(node, rest);
			range.setEnd(node, rest);
			const rect = range.getClientRects()[0] ?? range.getBoundingClientRect();
			const origin = box.getBoundingClientRect();
			// Near the right edge the list opens leftwards enough to stay inside the editor.
			const left = Math.max(0, Math.min(rect.left - origin.left, origin.width - 280));
			return { left, top: rect.bottom - origin.top };
		}
		rest -= length;
	}
	return null;
}

export default function OqlCodeEditor(props: OqlCodeEditorProps) {
	const box = useRef<HTMLDivElement>(null);
	const area = useRef<HTMLTextAreaElement>(null);
	const pre = useRef<HTMLPreElement>(null);
	const id = useId();
	const [completion, setCompletion] = useState<Completion | null>(null);
	const [active, setActive] = useState(0);
	const [point, setPoint] = useState<{ left: number; top: number } | null>(null);
	const text = props.value;

	const open = (explicit: boolean) => {
		const element = area.current;
		if (!element || element.selectionStart !== element.selectionEnd) return setCompletion(null);
		const next = complete(element.value, element.selectionStart, props.words, explicit);
		setCompletion(next);
		setActive(0);
	};

	// Place the list under the caret once the highlighted copy shows the current text.
	useLayoutEffect(() => {
		if (!completion || !pre.current || !box.current || !area.current) return setPoint(null);
		setPoint(caretPoint(pre.current, box.current, area.current.selectionStart));
	}, [completion, text]);

	// The chosen option stays in view while the arrows move through a long list.
	useLayoutEffect(() => {
		if (completion) document.getElementById(`${id}-option-${active}`)?.scrollIntoView({ block: "nearest" });
	}, [completion, active]);

	const accept = (option: Option) => {
		const element = area.current;
		if (!element || !completion) return;
		element.focus();
		element.setSelectionRange(completion.from, element.selectionStart);
		const insert = option.apply ?? option.label;
		// insertText keeps the browser's undo history; setRangeText where it is not supported.
		if (!document.execCommand("insertText", false, insert)) {
			element.setRangeText(insert, completion.from, element.selectionEnd, "end");
			props.onChange(element.value);
		}
		setCompletion(null);
	};

	const onKeyDown = (event: KeyboardEvent) => {
		if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
			event.preventDefault();
			setCompletion(null);
			props.onRun?.();
			return;
		}
		if (event.key === " " && event.ctrlKey) {
			event.preventDefault();
			open(true);
			return;
		}
		if (!completion) return;
		const count = completion.options.length;
		if (event.key === "ArrowDown" || event.key === "ArrowUp") {
			event.preventDefault();
			setActive((i) => (i + (event.key === "ArrowDown" ? 1 : count - 1)) % count);
		} else if (event.key === "Enter" || event.key === "Tab") {
			event.preventDefault();
			const option = completion.options[active];
			if (option) accept(option);
		} else if (event.key === "Escape") {
			event.preventDefault();
			setCompletion(null);
		}
	};

	const listId = `${id}-list`;
	const minHeight = `${(props.minLines ?? 4) * 1.45 + 1}em`;
	return (
		<div class="oql-editor" data-testid="oql-editor" ref={box}>
			<div class="oql-gutter" aria-hidden="true">
				{text.split("\n").map((_, i) => (
					<span key={i}>{i + 1}</span>
				))}
			</div>
			<div class="oql-text">
				<pre class="oql-highlight" aria-hidden="true" ref={pre} style={{ minHeight }}>
					<Highlighted text={text} error={props.error} />
				</pre>
				<textarea
					ref={area}
					aria-label={props.label}
					aria-autocomplete="list"
					aria-controls={completion ? listId : undefined}
					aria-activedescendant={completion ? `${id}-option-${active}` : undefined}
					aria-invalid={props.error ? "true" : undefined}
					placeholder="SELECT count(*) FROM logs GROUP BY service TIMESERIES"
					spellcheck={false}
					autocapitalize="off"
					autocomplete="off"
					value={text}
					onInput={(event) => {
						const element = event.currentTarget;
						props.onChange(element.value);
						const typed = (event as InputEvent).data ?? "";
						// Typing a word (or inside attributes['…) opens or narrows the list; anything else closes it.
						if (
							/^[\w$']$/.test(typed) ||
							(completion && (event as InputEvent).inputType.startsWith("delete"))
						)
							open(false);
						else setCompletion(null);
					}}
					onKeyDown={onKeyDown}
					onBlur={() => setCompletion(null)}
					onClick={() => setCompletion(null)}
				/>
			</div>
			{completion && point && (
				<div
					class="oql-completions"
					id={listId}
					role="listbox"
					aria-label="Completions"
					style={{ left: `${point.left}px`, top: `${point.top}px` }}
				>
					{completion.options.map((option, i) => (
						<div
							key={option.label}
							tabIndex={-1}
							id={`${id}-option-${i}`}
							role="option"
							aria-selected={i === active}
							onMouseDown={(event) => {
								event.preventDefault();
								accept(option);
							}}
						>
							<span class="oql-option-label">{option.label}</span>
							{option.detail && <span class="oql-option-detail">{option.detail}</span>}
						</div>
					))}
				</div>
			)}
		</div>
	);
}
