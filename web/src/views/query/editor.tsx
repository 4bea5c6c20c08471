import type { FunctionComponent } from "preact";
import { useEffect, useId, useState } from "preact/hooks";
import type { EditorError, OqlCodeEditorProps } from "./codemirror-editor";

export type { EditorError };

/** CodeMirror is loaded on first use only, so neither sign-in nor a dashboard's view pays for it. */
let loaded: FunctionComponent<OqlCodeEditorProps> | null = null;
let loading: Promise<FunctionComponent<OqlCodeEditorProps>> | null = null;

function loadEditor(): Promise<FunctionComponent<OqlCodeEditorProps>> {
	loading ??= import("./codemirror-editor").then((m) => {
		loaded = m.default;
		return m.default;
	});
	return loading;
}

/** A labelled OQL editor: the visible label names the editor's text box for tests and screen readers. */
export function OqlEditor(props: OqlCodeEditorProps) {
	const [Editor, setEditor] = useState(() => loaded);
	const [failed, setFailed] = useState(false);
	const id = useId();
	useEffect(() => {
		if (!Editor) {
			loadEditor()
				.then((component) => setEditor(() => component))
				.catch(() => setFailed(true));
		}
	}, []);
	return (
		<div class="field oql-field">
			<span class="field-label" id={id}>
				{props.label}
			</span>
			{Editor ? (
				<Editor {...props} />
			) : failed ? (
				// The plain fallback when the editor's chunk cannot be loaded: the query still works.
				<textarea
					aria-labelledby={id}
					class="mono"
					rows={props.minLines ?? 4}
					value={props.value}
					onInput={(e) => props.onChange(e.currentTarget.value)}
					onKeyDown={(e) => {
						if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
							e.preventDefault();
							props.onRun?.();
						}
					}}
				/>
			) : (
				<p class="subtitle" role="status">
					Loading the editor…
				</p>
			)}
		</div>
	);
}
