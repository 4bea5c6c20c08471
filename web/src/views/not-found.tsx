import { PageHeader } from "../components/ui";

export function NotFound() {
	return (
		<>
			<PageHeader title="Page not found" />
			<p>
				Nothing lives at this address. Go to the <a href="/">overview</a>.
			</p>
		</>
	);
}
