# FindMbedTLS: mbedTLS's three libraries for coil's installed CMake package
# (coilConfig.cmake: find_dependency(MbedTLS)). Debian 12's mbedTLS 2.28
# ships neither a .pc nor a CMake config, and scripts/mbedtls36.sh
# installs static libraries only, so the libraries are looked for by name.
# coil's public headers do not include mbedTLS's, so only the libraries
# are looked for.
#
# Hints: MbedTLS_ROOT (CMake's <Package>_ROOT); COIL_MBEDTLS_HINT (set by
# coilConfig.cmake: the prefix coil was built against, searched first).
# Defines MbedTLS_FOUND and two targets, each linking mbedtls, mbedx509
# and mbedcrypto in that order:
#   MbedTLS::MbedTLS         as the linker picks them (.so first)
#   MbedTLS::MbedTLS_static  the .a files when all three exist, else the
#                            same as MbedTLS::MbedTLS
set(_mbedtls_hints "")
if(COIL_MBEDTLS_HINT)
  set(_mbedtls_hints HINTS "${COIL_MBEDTLS_HINT}/lib")
endif()
set(_mbedtls_shared "")
set(_mbedtls_static "")
foreach(lib mbedtls mbedx509 mbedcrypto)
  find_library(MbedTLS_${lib}_LIBRARY NAMES ${lib} ${_mbedtls_hints})
  find_library(MbedTLS_${lib}_STATIC_LIBRARY NAMES lib${lib}.a
    ${_mbedtls_hints})
  mark_as_advanced(MbedTLS_${lib}_LIBRARY MbedTLS_${lib}_STATIC_LIBRARY)
  list(APPEND _mbedtls_shared "${MbedTLS_${lib}_LIBRARY}")
  if(_mbedtls_static STREQUAL "NONE" OR NOT MbedTLS_${lib}_STATIC_LIBRARY)
    set(_mbedtls_static "NONE")
  else()
    list(APPEND _mbedtls_static "${MbedTLS_${lib}_STATIC_LIBRARY}")
  endif()
endforeach()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS REQUIRED_VARS
  MbedTLS_mbedtls_LIBRARY MbedTLS_mbedx509_LIBRARY MbedTLS_mbedcrypto_LIBRARY)
if(MbedTLS_FOUND AND NOT TARGET MbedTLS::MbedTLS)
  add_library(MbedTLS::MbedTLS INTERFACE IMPORTED)
  set_target_properties(MbedTLS::MbedTLS PROPERTIES
    INTERFACE_LINK_LIBRARIES "${_mbedtls_shared}")
  if(_mbedtls_static STREQUAL "NONE")
    set(_mbedtls_static "${_mbedtls_shared}")
  endif()
  add_library(MbedTLS::MbedTLS_static INTERFACE IMPORTED)
  set_target_properties(MbedTLS::MbedTLS_static PROPERTIES
    INTERFACE_LINK_LIBRARIES "${_mbedtls_static}")
endif()
