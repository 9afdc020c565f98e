/*
 * test_ops — a few ops in the domain "test.framepipe" that the runtime's unit tests use, so the runtime
 * is tested independently of which ONNX ops the op groups have landed. Not registered in production.
 */
#ifndef TEST_OPS_H
#define TEST_OPS_H
/* Register the test ops once (idempotent). */
void test_ops_register(void);
#endif
