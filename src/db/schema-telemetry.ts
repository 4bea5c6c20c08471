/** OTLP telemetry: spans, logs, metric points and schema discovery (the OTLP ingest issue). */
export {};
