// Test S3 server: @20minutes/s3rver (an S3 fake that verifies AWS Signature V4, unlike s3rver 3.x
// whose V4 check is a stub) on a loopback port, with bucket fp-test. Credentials are s3rver's
// built-in account: S3RVER / S3RVER. usage: node s3_server.js PORT DATA_DIR
const S3rver = require('@20minutes/s3rver');
const [port, dir] = [parseInt(process.argv[2], 10), process.argv[3]];
new S3rver({ port, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: 'fp-test' }] })
  .run()
  .then(({ port }) => console.log(`listening ${port}`))
  .catch((e) => { console.error(e); process.exit(1); });
