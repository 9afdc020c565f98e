# backend_ops: the CUDA backend against the CPU reference, op by op (GPU machine only, label gpu).
# Included from tests/gpu/CMakeLists.txt; built whenever CUDA is, so CI catches build breaks.
if(TARGET fp_nn AND TARGET fp_nn_cuda)
  add_executable(backend_ops ${CMAKE_CURRENT_LIST_DIR}/backend_ops.c)
  target_link_libraries(backend_ops PRIVATE fp_nn CUDA::cudart)
  target_include_directories(backend_ops PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  add_test(NAME gpu.backend_ops COMMAND backend_ops)
  set_tests_properties(gpu.backend_ops PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77)
  # The case table checked against the CPU alone (no GPU needed): runs in CI.
  add_test(NAME nn.backend_ops_cases COMMAND backend_ops --cpu-only)
endif()
