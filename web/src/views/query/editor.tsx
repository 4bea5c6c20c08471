import OqlCodeEditor, { type EditorError, type OqlCodeEditorProps } from "./code-editor";

export type { EditorError };

/** A labelled OQL editor: the visible label names the editor's text box for tests and screen readers. */
export function OqlEditor(props: OqlCodeEditorProps) {
	return (
		<div class="field oql-field">
			<span class="field-label">{props.label}</span>
			<OqlCodeEditor {...props} />
		</div>
	);
}
