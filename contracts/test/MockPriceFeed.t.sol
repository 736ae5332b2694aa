// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {TestBase} from "./utils/TestBase.sol";
import {MockPriceFeed} from "../src/mocks/MockPriceFeed.sol";

contract MockPriceFeedTest is TestBase {
    MockPriceFeed internal feed;

    function setUp() public {
        vm.warp(1_700_000_000);
        feed = new MockPriceFeed(8, 5e7);
    }

    function test_Constructor_FirstRound() public view {
        assertEq(uint256(feed.decimals()), 8);
        assertEq(feed.description(), "FAR / USD (mock)");
        assertEq(feed.latestAnswer(), int256(5e7));
        assertEq(uint256(feed.latestRound()), 1);
        assertEq(feed.latestTimestamp(), 1_700_000_000);
        (uint80 id, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredIn) = feed.latestRoundData();
        assertEq(uint256(id), 1);
        assertEq(answer, int256(5e7));
        assertEq(startedAt, 1_700_000_000);
        assertEq(updatedAt, 1_700_000_000);
        assertEq(uint256(answeredIn), 1);
    }

    function test_Constructor_EmitsAnswerUpdated() public {
        vm.expectEmit(true, true, false, true);
        emit MockPriceFeed.AnswerUpdated(42, 1, block.timestamp);
        new MockPriceFeed(18, 42);
    }

    function test_UpdateAnswer_NewRound() public {
        vm.warp(1_700_000_600);
        vm.expectEmit(true, true, false, true, address(feed));
        emit MockPriceFeed.AnswerUpdated(-3, 2, 1_700_000_600);
        vm.prank(vm.addr(1)); // anyone may move the mock price
        feed.updateAnswer(-3);
        (uint80 id, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        assertEq(uint256(id), 2);
        assertEq(answer, int256(-3));
        assertEq(updatedAt, 1_700_000_600);
    }

    function testFuzz_UpdateAnswer(int256 answer, uint8 rounds) public {
        rounds = uint8(bound(rounds, 1, 20));
        for (uint256 i = 0; i < rounds; i++) {
            feed.updateAnswer(answer);
        }
        (uint80 id, int256 got,,,) = feed.latestRoundData();
        assertEq(uint256(id), 1 + uint256(rounds));
        assertEq(got, answer);
    }
}
