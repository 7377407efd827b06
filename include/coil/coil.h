/* coil/coil.h - the umbrella header: everything public in coil. */
#ifndef COIL_COIL_H
#define COIL_COIL_H

#include "coil/engine.h"

#endif
