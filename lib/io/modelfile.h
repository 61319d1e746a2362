/* Transitional: the model file code is in lib/model (model/modelfile.h).
 * lib/train/train.c still includes this name; it goes when that line says
 * "model/modelfile.h". */
#include "model/modelfile.h"
