# FindLibUring: liburing's libraries for coil's installed CMake package
# (coilConfig.cmake: find_dependency(LibUring)), found without liburing.pc.
# coil's public headers do not include liburing.h, so only the libraries
# are looked for.
#
# Hints: LibUring_ROOT (CMake's <Package>_ROOT).
# Defines LibUring_FOUND and two targets:
#   LibUring::LibUring         liburing as the linker picks it (.so first)
#   LibUring::LibUring_static  liburing.a when there is one, else the same
#                              as LibUring::LibUring
find_library(LibUring_LIBRARY NAMES uring)
find_library(LibUring_STATIC_LIBRARY NAMES liburing.a)
mark_as_advanced(LibUring_LIBRARY LibUring_STATIC_LIBRARY)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LibUring REQUIRED_VARS LibUring_LIBRARY)
if(LibUring_FOUND AND NOT TARGET LibUring::LibUring)
  add_library(LibUring::LibUring INTERFACE IMPORTED)
  set_target_properties(LibUring::LibUring PROPERTIES
    INTERFACE_LINK_LIBRARIES "${LibUring_LIBRARY}")
  add_library(LibUring::LibUring_static INTERFACE IMPORTED)
  if(LibUring_STATIC_LIBRARY)
    set_target_properties(LibUring::LibUring_static PROPERTIES
      INTERFACE_LINK_LIBRARIES "${LibUring_STATIC_LIBRARY}")
  else()
    set_target_properties(LibUring::LibUring_static PROPERTIES
      INTERFACE_LINK_LIBRARIES "${LibUring_LIBRARY}")
  endif()
endif()
