#pragma once
/// \file
/// llm.rag: retrieval-augmented generation, piece by piece. Documents with stable ids are cut into
/// chunks that are exact passages (TextChunker), indexed lexically (BM25Retriever) or densely
/// (DenseRetriever over an EmbeddingModel: HashingTfidfEmbedder by default, or the MiniLM encoder through
/// llm/rag/sentence_encoder_embedder.hpp, included separately because it brings the transformer), and
/// every result cites its document and offsets. Hybrid retrieval fuses the two (reciprocal rank or
/// normalised score fusion) and maximal marginal relevance reranks for diversity. RAGPipeline carries a
/// question through retrieval, reranking, a ContextAssembler (token budget, merged passages, numbered
/// citations) and a Generator (ExtractiveGenerator: the context's best sentences, each cited). Retrieval
/// quality is measured with trec_eval's metrics on TREC qrels and run files.

#include "aimastery/llm/rag/bm25.hpp"
#include "aimastery/llm/rag/cached_embedder.hpp"
#include "aimastery/llm/rag/context_assembler.hpp"
#include "aimastery/llm/rag/cross_encoder_reranker.hpp"
#include "aimastery/llm/rag/dense_retriever.hpp"
#include "aimastery/llm/rag/document.hpp"
#include "aimastery/llm/rag/embedded_chunks.hpp"
#include "aimastery/llm/rag/embedding_model.hpp"
#include "aimastery/llm/rag/extractive_generator.hpp"
#include "aimastery/llm/rag/fusion.hpp"
#include "aimastery/llm/rag/generator.hpp"
#include "aimastery/llm/rag/hashing_tfidf_embedder.hpp"
#include "aimastery/llm/rag/hnsw_index.hpp"
#include "aimastery/llm/rag/hnsw_retriever.hpp"
#include "aimastery/llm/rag/hybrid_retriever.hpp"
#include "aimastery/llm/rag/lexical_tokenizer.hpp"
#include "aimastery/llm/rag/mmr.hpp"
#include "aimastery/llm/rag/rag_index.hpp"
#include "aimastery/llm/rag/rag_pipeline.hpp"
#include "aimastery/llm/rag/reranker.hpp"
#include "aimastery/llm/rag/retrieval_metrics.hpp"
#include "aimastery/llm/rag/retrieval_result.hpp"
#include "aimastery/llm/rag/retriever.hpp"
#include "aimastery/llm/rag/text_chunker.hpp"
#include "aimastery/llm/rag/text_spans.hpp"
#include "aimastery/llm/rag/top_k.hpp"
#include "aimastery/llm/rag/trec_files.hpp"
