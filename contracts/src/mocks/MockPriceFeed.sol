// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @notice A Chainlink-shaped FAR/USD feed for local chains; anyone may move the price.
contract MockPriceFeed is AggregatorV3Interface {
    uint8 public immutable decimals;
    int256 public latestAnswer;
    uint80 public latestRound;
    uint256 public latestTimestamp;

    /// Chainlink aggregators emit this same event on every new round.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(uint8 decimals_, int256 initialAnswer) {
        decimals = decimals_;
        updateAnswer(initialAnswer);
    }

    function description() external pure returns (string memory) {
        return "FAR / USD (mock)";
    }

    function updateAnswer(int256 answer) public {
        latestAnswer = answer;
        latestRound += 1;
        latestTimestamp = block.timestamp;
        emit AnswerUpdated(answer, latestRound, block.timestamp);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (latestRound, latestAnswer, latestTimestamp, latestTimestamp, latestRound);
    }
}
