import {
	type ComponentChildren,
	Fragment,
	type InputHTMLAttributes,
	type Ref,
	type SelectHTMLAttributes,
} from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import type { ApiProblem } from "../api/client";
import { formatTime, timeAgo } from "./format";

/** A labelled input: the label is visible and tied to the control (tests and screen readers find it by name). */
export function Field(
	props: {
		label: string;
		hint?: ComponentChildren;
		error?: string | null;
		inputRef?: Ref<HTMLInputElement>;
	} & InputHTMLAttributes<HTMLInputElement>,
) {
	const { label, hint, error, inputRef, ...input } = props;
	const id = useId();
	const hintId = `${id}-hint`;
	return (
		<div class="field">
			<label for={id}>{label}</label>
			<input
				ref={inputRef}
				id={id}
				aria-invalid={error ? "true" : undefined}
				aria-describedby={hint || error ? hintId : undefined}
				{...input}
			/>
			{error ? (
				<span id={hintId} class="field-error">
					{error}
				</span>
			) : hint ? (
				<span id={hintId} class="hint">
					{hint}
				</span>
			) : null}
		</div>
	);
}

export function SelectField(
	props: {
		label: string;
		options: Array<[string, string]>;
		hint?: string;
		/** The label for screen readers only (a table cell whose column header already says it). */
		hideLabel?: boolean;
	} & SelectHTMLAttributes<HTMLSelectElement>,
) {
	const { label, options, hint, hideLabel, ...select } = props;
	const id = useId();
	return (
		<div class="field">
			<label for={id} class={hideLabel ? "visually-hidden" : undefined}>
				{label}
			</label>
			<select id={id} {...select}>
				{options.map(([value, text]) => (
					<option key={value} value={value}>
						{text}
					</option>
				))}
			</select>
			{hint ? <span class="hint">{hint}</span> : null}
		</div>
	);
}

/** An API error as a person reads it: the message, the field problems and the request id for support. */
export function ErrorNotice({ problem }: { problem: ApiProblem | null | undefined }) {
	if (!problem) return null;
	return (
		<div class="notice error" role="alert">
			<strong>{problem.message}</strong>
			{problem.details.length > 0 ? (
				<ul>
					{problem.details.map((d, i) => (
						<li key={i}>
							{d.path ? `${d.path}: ` : ""}
							{d.message}
						</li>
					))}
				</ul>
			) : null}
			{problem.requestId ? <span class="request-id">Request ID: {problem.requestId}</span> : null}
		</div>
	);
}

/** A notice; `action` (a Dismiss button, say) sits at its top right, beside the text. */
export function Notice(props: {
	kind: "success" | "info" | "warn";
	children: ComponentChildren;
	action?: ComponentChildren;
}) {
	return (
		<div class={`notice ${props.kind}${props.action ? " with-action" : ""}`} role="status">
			{props.action ? <div>{props.children}</div> : props.children}
			{props.action}
		</div>
	);
}

export function Badge({ kind, children }: { kind: string; children?: ComponentChildren }) {
	return <span class={`badge ${kind}`}>{children ?? kind}</span>;
}

/**
 * After the next render, the focus goes to what `selector` finds in `root`: the control a person
 * returns to when the one they used is gone (a form closed, a panel shut), where it fell to the
 * page's start.
 */
export function focusAfterRender(selector: string, root: ParentNode | null = document): void {
	setTimeout(() => root?.querySelector<HTMLElement>(selector)?.focus());
}

/** The tab's title while a view is shown: "Logs · Hexcovery" (it was "Hexcovery" on every page). */
export function useDocumentTitle(title: string): void {
	useEffect(() => {
		document.title = title ? `${title} · Hexcovery` : "Hexcovery";
	}, [title]);
}

export function PageHeader(props: {
	title: string;
	subtitle?: ComponentChildren;
	children?: ComponentChildren;
}) {
	useDocumentTitle(props.title);
	return (
		<div class="page-header">
			<div>
				<h1>{props.title}</h1>
				{props.subtitle ? <p class="subtitle">{props.subtitle}</p> : null}
			</div>
			{props.children ? <div class="actions">{props.children}</div> : null}
		</div>
	);
}

export function Empty({ children }: { children: ComponentChildren }) {
	return <div class="empty">{children}</div>;
}

export function Loading({ what }: { what: string }) {
	return (
		<p class="subtitle" role="status">
			Loading {what}…
		</p>
	);
}

/** Copies text to the clipboard and says so. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
	const [copied, setCopied] = useState(false);
	return (
		<button
			type="button"
			class="small"
			onClick={async () => {
				try {
					await navigator.clipboard.writeText(text);
					setCopied(true);
					setTimeout(() => setCopied(false), 2000);
				} catch {
					setCopied(false);
				}
			}}
		>
			{copied ? "Copied" : label}
		</button>
	);
}

/** A native <dialog> shown as a modal while `open` (focus trapping and Escape for free). */
export function useModal(open: boolean): Ref<HTMLDialogElement> {
	const ref = useRef<HTMLDialogElement>(null);
	/** What had the focus when the dialog opened: it gets it back when the dialog goes. */
	const opener = useRef<HTMLElement | null>(null);
	useEffect(() => {
		const dialog = ref.current;
		if (!dialog) return;
		if (open && !dialog.open) {
			opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
			dialog.showModal();
		}
		// Closed, the browser gives the focus back itself.
		if (!open && dialog.open) {
			dialog.close();
			opener.current = null;
		}
	}, [open]);
	// A dialog shown only while it is needed is removed open, and then nothing gets the focus back
	// (it fell to the page's start: the next Tab began at the top). Once it is gone, the opener does.
	useEffect(
		() => () => {
			const back = opener.current;
			if (!back) return;
			setTimeout(() => {
				const focused = document.activeElement;
				if (back.isConnected && (focused === null || focused === document.body)) back.focus();
			});
		},
		[],
	);
	return ref;
}

/** A modal confirmation. */
export function ConfirmDialog(props: {
	open: boolean;
	title: string;
	children: ComponentChildren;
	confirmLabel: string;
	danger?: boolean;
	busy?: boolean;
	onConfirm: () => void;
	onCancel: () => void;
}) {
	const ref = useModal(props.open);
	const titleId = useId();
	return (
		<dialog
			ref={ref}
			aria-labelledby={titleId}
			onCancel={(e) => {
				// Escape goes through onCancel, which may ask first (a panel editor with typed changes).
				e.preventDefault();
				props.onCancel();
			}}
			onClose={(e) => {
				// Chromium closes a dialog on a second Escape without cancel's say (its close-watcher
				// rule): while it should be open it is shown again and onCancel decides, as on the first.
				if (!props.open) return;
				(e.currentTarget as HTMLDialogElement).showModal();
				props.onCancel();
			}}
		>
			<h2 id={titleId}>{props.title}</h2>
			{props.children}
			<div class="buttons">
				<button type="button" onClick={props.onCancel}>
					Cancel
				</button>
				<button
					type="button"
					class={props.danger ? "danger" : "primary"}
					disabled={props.busy}
					onClick={props.onConfirm}
				>
					{props.confirmLabel}
				</button>
			</div>
		</dialog>
	);
}

/**
 * A command to copy (a cron line, an SDK's settings), shown whole: it wraps only at its spaces,
 * each word kept on one line — a browser also breaks after a hyphen ("X-API-" / "Key"), which would
 * misquote it. A word wider than the block scrolls. The text is the command exactly (select and copy).
 */
export function CommandBlock({ text }: { text: string }) {
	return (
		<pre class="command">
			<code>
				{text.split("\n").map((line, i) => (
					<Fragment key={i}>
						{i > 0 ? "\n" : null}
						{line.split(" ").map((word, j) => (
							<Fragment key={j}>
								{j > 0 ? " " : null}
								<span>
									{word.split(/(?<=\/)/).map((part, k) => (
										<Fragment key={k}>
											{k > 0 ? <wbr /> : null}
											<span>{part}</span>
										</Fragment>
									))}
								</span>
							</Fragment>
						))}
					</Fragment>
				))}
			</code>
		</pre>
	);
}

/**
 * Telemetry attributes (a span's, a log record's, a resource's) as a list of keys and values, by
 * key: strings as they are, other values as JSON. None: "None.", as every empty section says.
 */
export function AttributeList({
	label,
	attributes,
}: {
	label: string;
	attributes: Record<string, unknown> | null | undefined;
}) {
	const entries = Object.entries(attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
	if (entries.length === 0) return <p class="subtitle">None.</p>;
	return (
		<dl class="kv attributes" aria-label={label}>
			{entries.map(([key, value]) => (
				<Fragment key={key}>
					<dt>{key}</dt>
					<dd>{typeof value === "string" ? value : JSON.stringify(value)}</dd>
				</Fragment>
			))}
		</dl>
	);
}

/** "3 minutes ago" / "in 2 hours", with the exact time on hover. */
export function When({ at, empty = "—" }: { at: string | null | undefined; empty?: string }) {
	if (!at) return <span class="subtitle">{empty}</span>;
	return (
		<time dateTime={at} title={formatTime(at)}>
			{timeAgo(at)}
		</time>
	);
}

/** A secret shown once: a read-only, labelled text box (select-all on focus) with a copy button. */
export function SecretField({ label, value }: { label: string; value: string }) {
	return (
		<div class="row secret">
			<Field
				label={label}
				readOnly
				value={value}
				class="mono"
				size={Math.min(Math.max(value.length, 20), 60)}
				onFocus={(e) => e.currentTarget.select()}
			/>
			<CopyButton text={value} />
		</div>
	);
}
