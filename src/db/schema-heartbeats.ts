/** Heartbeat monitors, pings, flips and alert channels (the heartbeats issue). */
export {};
