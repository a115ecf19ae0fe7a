"""Conventions into canonical columns: pure functions from decoded OTLP records to `store.rows` rows.

    normalize_span(raw: RawSpan, project, ingested_at) -> SpanRow
    normalize_log(raw: RawLog, project, ingested_at) -> LogRow
    messages_from_log_body([(event_name, body), …]) -> (input messages, output messages)

Conventions understood (CONVENTIONS.md has what each really sends): OTel GenAI semconv, current and
older (`gen_ai.input.messages`, `gen_ai.prompt`, `gen_ai.prompt.N.*`, content events and log records),
OpenInference, OpenLLMetry/Traceloop, Langfuse, and Loupe's SDK. The mapping is data in `tables.py`;
the convention is picked by scope name or marker keys and recorded in `SpanRow.convention`
(genai, openinference, openllmetry, langfuse, loupe, none). No web or database imports here.

Loupe's SDK sends the current OTel GenAI conventions (`gen_ai.*`, `session.id`, `user.id`) under a
tracer scope named `loupe…`, plus only these keys (a contract with sdk/; keep it stable):

    loupe.span.kind         llm | embedding | retriever | reranker | tool | agent | chain | guardrail
                            | evaluator | other — for spans `gen_ai.operation.name` does not classify
    loupe.tags              string array (a JSON array or comma-separated string is accepted)
    loupe.metadata.<key>    string; one attribute per metadata key
    loupe.environment       e.g. "production" (overrides the resource's deployment.environment.name)
    loupe.release           the app's release / git sha
    loupe.prompt.name       alias of gen_ai.prompt.name
    loupe.prompt.version    string ("3"); ints are accepted
    loupe.prompt.template   template text, e.g. "Answer about {topic}."
    loupe.prompt.variables  JSON object text, e.g. '{"topic": "caching"}'
    loupe.input             input of a non-LLM span (string; JSON text when structured)
    loupe.output            output of a non-LLM span

Canonical shapes (the JSON text columns of SpanRow):

- kind: llm, embedding, retriever, reranker, tool, agent, chain, guardrail, evaluator, other. OTel's
  SpanKind is ignored; unknown spans (e.g. an httpx `POST`) are `other`. operation: chat, completion,
  responses (the OpenAI Responses API, whatever the convention calls it), embeddings, execute_tool,
  invoke_agent, retrieval, rerank, or the sender's own `gen_ai.operation.name`.
- input / output of llm spans (and of agent/chain spans that carry messages): a JSON list of
  `{"role": "system|user|assistant|tool", "content": "<text>", "tool_calls": [{"id", "name",
  "arguments"}]?, "tool_call_id": "…"?}`; system instructions become a leading system message;
  `arguments` is the decoded JSON value when the sender's text is JSON. Embedding spans: a JSON list of
  the embedded texts (vectors are dropped). Tool spans: the arguments and the result as given.
  Other spans: the value as given (plain string, or compact JSON text when structured).
- tool_calls: llm spans, the model's calls from the output `[{"id", "name", "arguments"}]`; tool spans,
  one `{"id", "name", "arguments", "result"}`. tool_name is set on tool spans.
- documents: `[{"id", "score", "content", "metadata"}]` (score null when not sent).
- tokens: input (including cached, as OpenAI counts), output (including reasoning), cached_input,
  reasoning, total (input + output when not sent). cost_usd/cost_source "reported" only when the
  sender reports a cost (Langfuse cost_details, llm.cost.total); otherwise pricing happens later.
- finish_reasons lower case with `tool_call`→`tool_calls`, `end_turn`→`stop`, `max_tokens`→`length`.
  prompt_version is a string. ttft_ms from `gen_ai.response.time_to_first_chunk` (s), the first
  token/chunk event, or Langfuse's completion_start_time; a TTFT implies stream = 1.
- model_parameters: JSON object (temperature, max_tokens, top_p…); prompt_variables: JSON object.
- status error when the span status is ERROR, `error.type` is set, an `exception` event exists, or
  Langfuse level is ERROR; the message comes from the status, the exception or the error type.
- attributes: everything no table consumed, as text (non-strings as compact JSON); a key whose value
  could not be understood (bad JSON, wrong type) is kept there as sent. resource_attributes: all
  resource attributes except those that became columns (service.name/version,
  deployment.environment(.name), langfuse.environment/release). events: JSON list of
  `{"name", "time" (ISO-8601 UTC), "attributes"}`, minus legacy content events whose content became
  input/output; `gen_ai.evaluation.result` events stay there for the scoring pass.
- Log records: content attributes (`gen_ai.input.messages`…) move into the body (JSON text), which
  `messages_from_log_body` turns into canonical messages at read time.

Session, user and other trace-level facts are taken from the span itself only; carrying them down
from ancestors is the traces rollup's job (DESIGN.md).
"""

from collector.normalize.logs import messages_from_log_body, normalize_log
from collector.normalize.span import normalize_span

__all__ = ["messages_from_log_body", "normalize_log", "normalize_span"]
