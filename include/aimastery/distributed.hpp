#pragma once
/// \file
/// The distributed pieces, on MPI (link aimastery::mpi; the umbrella aimastery.hpp does not include
/// this header): MPI's lifetime, a communicator with the collectives the algorithms use, checks that
/// every rank agrees before any work, data-parallel NeuralNetwork training, sharded retrieval, decision
/// trees and random forests on rows sharded across ranks, and cross-validation spread over the ranks.
/// See docs/distributed.md.

#include "aimastery/distributed/agreement.hpp"
#include "aimastery/distributed/communicator.hpp"
#include "aimastery/distributed/data_parallel.hpp"
#include "aimastery/distributed/distributed_model_selection.hpp"
#include "aimastery/distributed/environment.hpp"
#include "aimastery/distributed/mpi_error.hpp"
#include "aimastery/distributed/request.hpp"
#include "aimastery/distributed/same_queries.hpp"
#include "aimastery/distributed/sharded_bm25.hpp"
#include "aimastery/distributed/sharded_dense_index.hpp"
#include "aimastery/distributed/sharded_hnsw.hpp"
#include "aimastery/distributed/sharded_knn.hpp"
#include "aimastery/distributed/sharded_trees.hpp"
#include "aimastery/distributed/top_k_merge.hpp"
