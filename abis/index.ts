export { farTokenAbi, farTokenBytecode } from "./FARToken";
export { inferencePaymentAbi, inferencePaymentBytecode } from "./InferencePayment";
export { mockPriceFeedAbi, mockPriceFeedBytecode } from "./MockPriceFeed";
