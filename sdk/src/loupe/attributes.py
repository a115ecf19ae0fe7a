"""The attribute keys the SDK emits: OpenTelemetry GenAI semantic conventions first, `loupe.*` only
where the conventions have nothing. The collector's normaliser reads exactly these keys."""

from __future__ import annotations

# --- OpenTelemetry GenAI semantic conventions (experimental, current) ---
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
RETRIEVAL_DOCUMENTS = "gen_ai.retrieval.documents"
RETRIEVAL_QUERY_TEXT = "gen_ai.retrieval.query.text"
DATA_SOURCE_ID = "gen_ai.data_source.id"
TOOL_NAME = "gen_ai.tool.name"
TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"
AGENT_NAME = "gen_ai.agent.name"
AGENT_ID = "gen_ai.agent.id"
AGENT_DESCRIPTION = "gen_ai.agent.description"
CONVERSATION_ID = "gen_ai.conversation.id"
PROMPT_NAME = "gen_ai.prompt.name"
OPENAI_API_TYPE = "openai.api.type"  # "chat_completions" | "responses"
SESSION_ID = "session.id"
USER_ID = "user.id"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

# --- Resource attributes ---
SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"
DEPLOYMENT_ENVIRONMENT = "deployment.environment.name"
RELEASE = "loupe.release"  # also sent on spans when the app's own resource lacks it

# --- Loupe's own keys, where the conventions have nothing ---
SPAN_KIND = "loupe.span.kind"  # only for kinds without a gen_ai operation (chain, guardrail, …)
TAGS = "loupe.tags"  # string array
METADATA_PREFIX = "loupe.metadata."  # one string attribute per key (JSON text for non-strings)
ENVIRONMENT = "loupe.environment"  # span-level environment, when the app's own resource lacks it
PROMPT_VERSION = "loupe.prompt.version"  # string
PROMPT_TEMPLATE = "loupe.prompt.template"
PROMPT_VARIABLES = "loupe.prompt.variables"  # JSON object
INPUT = "loupe.input"  # JSON, or plain text when the value is a string
OUTPUT = "loupe.output"

# --- Span kinds: the canonical `kind` column, and the gen_ai operation each one maps to ---
KIND_LLM = "llm"
KIND_EMBEDDING = "embedding"
KIND_RETRIEVER = "retriever"
KIND_RERANKER = "reranker"
KIND_TOOL = "tool"
KIND_AGENT = "agent"
KIND_CHAIN = "chain"
KIND_GUARDRAIL = "guardrail"
KIND_EVALUATOR = "evaluator"
KIND_OTHER = "other"

OPERATION_BY_KIND: dict[str, str] = {
    KIND_LLM: "chat",
    KIND_EMBEDDING: "embeddings",
    KIND_RETRIEVER: "retrieval",
    KIND_TOOL: "execute_tool",
    KIND_AGENT: "invoke_agent",
}
KINDS: frozenset[str] = frozenset(
    (*OPERATION_BY_KIND, KIND_RERANKER, KIND_CHAIN, KIND_GUARDRAIL, KIND_EVALUATOR, KIND_OTHER)
)
# Operations whose spans are model calls: the active prompt version is stamped on these.
LLM_OPERATIONS: frozenset[str] = frozenset({"chat", "text_completion", "generate_content"})
