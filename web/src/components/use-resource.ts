import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { type ApiProblem, asProblem } from "../api/client";

export interface Resource<T> {
	data: T | undefined;
	error: ApiProblem | null;
	loading: boolean;
	/** Loads again; the current data stays shown meanwhile (no flicker on auto-refresh). */
	reload: () => Promise<void>;
}

/** Loads `load()` when `key` changes; keeps the last good data while reloading. */
export function useResource<T>(load: () => Promise<T>, key: unknown[] = []): Resource<T> {
	const [data, setData] = useState<T | undefined>(undefined);
	const [error, setError] = useState<ApiProblem | null>(null);
	const [loading, setLoading] = useState(true);
	const generation = useRef(0);
	const loader = useRef(load);
	loader.current = load;
	const reload = useCallback(async () => {
		const mine = ++generation.current;
		setLoading(true);
		try {
			const value = await loader.current();
			if (mine !== generation.current) return;
			setData(value);
			setError(null);
		} catch (e) {
			if (mine === generation.current) setError(asProblem(e));
		} finally {
			if (mine === generation.current) setLoading(false);
		}
	}, []);
	useEffect(() => {
		void reload();
	}, key);
	return { data, error, loading, reload };
}

/** Runs an action, keeping its busy state and error for the form that started it. */
export function useAction<A extends unknown[], T>(action: (...args: A) => Promise<T>) {
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<ApiProblem | null>(null);
	/**
	 * A call while one runs is ignored: its buttons are marked aria-disabled while busy rather than
	 * disabled (a disabled button drops the keyboard's focus to the page's start), so this is the guard.
	 */
	const running = useRef(false);
	const run = useCallback(
		async (...args: A): Promise<T | undefined> => {
			if (running.current) return undefined;
			running.current = true;
			setBusy(true);
			setError(null);
			try {
				return await action(...args);
			} catch (e) {
				setError(asProblem(e));
				return undefined;
			} finally {
				running.current = false;
				setBusy(false);
			}
		},
		[action],
	);
	return { run, busy, error, setError };
}
