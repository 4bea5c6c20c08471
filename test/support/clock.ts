import type { Clock } from "../../src/clock.js";

/** A clock that moves only when told. */
export class FakeClock implements Clock {
	constructor(private current = Date.UTC(2026, 10, 28, 12, 0, 0)) {}
	now(): number {
		return this.current;
	}
	advance(ms: number): void {
		this.current += ms;
	}
	set(ms: number): void {
		this.current = ms;
	}
}
