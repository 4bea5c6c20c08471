import { withoutPosition } from "./oql";

/**
 * An OQL query's refusal as the query explorer and the dashboards' panels show it: "Line 2, column
 * 1:" first when the error has a place in the text, then the message (without the position it also
 * carries), and the request id when there is one (to quote in a report).
 */
export function OqlErrorNotice(props: {
	message: string;
	position?: { line: number; column: number } | null;
	requestId?: string | null;
	class?: string;
}) {
	const { position } = props;
	return (
		<div class={`notice error oql-error ${props.class ?? ""}`} role="alert">
			{position ? (
				<strong>
					Line {position.line}, column {position.column}:{" "}
				</strong>
			) : null}
			<span>{position ? withoutPosition(props.message) : props.message}</span>
			{props.requestId ? <span class="request-id">Request ID: {props.requestId}</span> : null}
		</div>
	);
}
