/* libanthem: hyperbolic hyperboloid embeddings for product retrieval.
 * The umbrella header: include this one. */
#ifndef ANTHEM_ANTHEM_H
#define ANTHEM_ANTHEM_H

#include <anthem/common.h>
#include <anthem/error.h>
#include <anthem/version.h>
#include <anthem/vectors.h>
#include <anthem/hyperboloid.h>
#include <anthem/model.h>
#include <anthem/io.h>
#include <anthem/data.h>
#include <anthem/eval.h>
#include <anthem/train.h>
#include <anthem/search.h>

#endif
