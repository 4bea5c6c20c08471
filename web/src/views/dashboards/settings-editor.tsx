import type { components } from "../../api/schema";
import { rangeLabel } from "../../components/format";
import { RELATIVE_RANGES } from "../../components/time-range";
import { Field, SelectField } from "../../components/ui";
import type { Dashboard } from "./model";

type Variable = components["schemas"]["DashboardVariable"];
type VariableSource = NonNullable<Variable["source"]>;

/** The default ranges offered, the picker's; a dashboard saved with another one (over the API) keeps it. */
const RANGES: Array<[string, string]> = RELATIVE_RANGES.map(([key, label]) => [key, label]);

/** Fields whose values schema discovery offers for a dropdown (docs/dashboards.md, `variables`). */
const SOURCES: Array<[string, string]> = [
	["", "Fixed values, or free text"],
	...(
		[
			["logs", "service"],
			["logs", "host"],
			["logs", "level"],
			["spans", "service"],
			["spans", "host"],
			["spans", "name"],
		] as const
	).map(([source, field]): [string, string] => [`${source}.${field}`, `Values seen in ${source}.${field}`]),
];

/** Edit mode's dashboard settings: the default time range and the variables (dropdowns or text boxes). */
export function DashboardSettingsEditor(props: { draft: Dashboard; onChange: (draft: Dashboard) => void }) {
	const { draft, onChange } = props;
	const last = "last" in draft.time ? draft.time.last : null;
	const rangeOptions: Array<[string, string]> =
		last === null
			? [["", "Fixed window (set over the API)"], ...RANGES]
			: RANGES.some(([value]) => value === last)
				? RANGES
				: [[last, rangeLabel(last)], ...RANGES];
	const setVariable = (index: number, change: Partial<Variable>) =>
		onChange({ ...draft, variables: draft.variables.map((v, i) => (i === index ? { ...v, ...change } : v)) });
	return (
		<section class="card dash-settings" aria-label="Dashboard settings">
			<SelectField
				label="Default time range"
				hint="Used when the time range picker is not set"
				options={rangeOptions}
				value={last ?? ""}
				onChange={(e) => {
					const value = (e.target as HTMLSelectElement).value;
					if (value) onChange({ ...draft, time: { last: value } });
				}}
			/>
			{draft.variables.map((variable, index) => {
				const source = variable.source ? `${variable.source.source}.${variable.source.field}` : "";
				return (
					<fieldset key={index} class="row dash-variable">
						<legend>Variable {index + 1}</legend>
						<Field
							label="Name"
							hint={`Used as $${variable.name || "name"} in queries`}
							value={variable.name}
							maxLength={64}
							onInput={(e) => setVariable(index, { name: e.currentTarget.value.trim() })}
						/>
						<Field
							label="Label"
							value={variable.label ?? ""}
							maxLength={200}
							onInput={(e) => setVariable(index, { label: e.currentTarget.value || null })}
						/>
						<SelectField
							label="Offer"
							options={SOURCES}
							value={source}
							onChange={(e) => {
								const [from, field] = (e.target as HTMLSelectElement).value.split(".");
								setVariable(
									index,
									from && field
										? { source: { source: from as VariableSource["source"], field }, values: null }
										: { source: null },
								);
							}}
						/>
						{variable.source ? null : (
							<Field
								label="Values"
								hint="Comma separated; leave empty for a text box"
								value={(variable.values ?? []).join(", ")}
								onInput={(e) => {
									const values = e.currentTarget.value
										.split(",")
										.map((v) => v.trim())
										.filter(Boolean);
									setVariable(index, { values: values.length > 0 ? values : null });
								}}
							/>
						)}
						<Field
							label="Default"
							value={variable.default ?? ""}
							onInput={(e) => setVariable(index, { default: e.currentTarget.value || null })}
						/>
						<button
							type="button"
							class="small danger"
							onClick={() => onChange({ ...draft, variables: draft.variables.filter((_, i) => i !== index) })}
						>
							Remove variable<span class="visually-hidden"> {index + 1}</span>
						</button>
					</fieldset>
				);
			})}
			<button
				type="button"
				onClick={() => onChange({ ...draft, variables: [...draft.variables, { name: "", label: null }] })}
			>
				Add variable
			</button>
		</section>
	);
}
