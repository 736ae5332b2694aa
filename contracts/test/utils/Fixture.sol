// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {TestBase} from "./TestBase.sol";
import {FARToken} from "../../src/FARToken.sol";
import {InferencePayment} from "../../src/InferencePayment.sol";
import {MockPriceFeed} from "../../src/mocks/MockPriceFeed.sol";

/// @notice The deployment every suite starts from: FAR with part of the supply minted, the
/// payment contract wired to it (it holds REVENUE_ROLE so settlements can feed stakers), an
/// oracle, two registered nodes and funded users.
abstract contract Fixture is TestBase {
    uint256 internal constant INITIAL_SUPPLY = 500_000_000 ether;
    uint256 internal constant LOCK = 7 days;
    uint256 internal constant TIMEOUT = 1 days;
    uint256 internal constant USER_FUNDS = 1_000_000 ether;
    int256 internal constant PRICE = 5e7; // 0.5 USD with 8 decimals
    uint256 internal constant YEAR = 365 days;

    address internal admin = vm.addr(0xA11CE);
    address internal oracle = vm.addr(0x0AC1E);
    address internal treasury = vm.addr(0x7EA5);
    address internal alice = vm.addr(0xA1);
    address internal bob = vm.addr(0xB0B);
    address internal carol = vm.addr(0xCA201);
    address internal node1 = vm.addr(0x40DE1);
    address internal node2 = vm.addr(0x40DE2);
    address internal nodeOwner = vm.addr(0x0E1);
    address internal stranger = vm.addr(0x5EE);

    FARToken internal far;
    InferencePayment internal pay;
    MockPriceFeed internal feed;

    function setUp() public virtual {
        vm.label(admin, "admin");
        vm.label(oracle, "oracle");
        vm.label(treasury, "treasury");
        vm.label(alice, "alice");
        vm.label(bob, "bob");
        vm.label(carol, "carol");
        vm.label(node1, "node1");
        vm.label(node2, "node2");
        vm.label(stranger, "stranger");

        far = new FARToken(admin, INITIAL_SUPPLY, LOCK);
        feed = new MockPriceFeed(8, PRICE);
        pay = new InferencePayment(admin, address(far), treasury, address(feed), TIMEOUT);

        vm.startPrank(admin);
        far.grantRole(far.REVENUE_ROLE(), address(pay));
        pay.grantRole(pay.ORACLE_ROLE(), oracle);
        far.transfer(alice, USER_FUNDS);
        far.transfer(bob, USER_FUNDS);
        far.transfer(carol, USER_FUNDS);
        vm.stopPrank();

        vm.startPrank(oracle);
        pay.registerNode(node1, nodeOwner);
        pay.registerNode(node2, nodeOwner);
        vm.stopPrank();

        _approveAll(alice);
        _approveAll(bob);
        _approveAll(carol);
    }

    function _approveAll(address who) internal {
        vm.startPrank(who);
        far.approve(address(pay), type(uint256).max);
        vm.stopPrank();
    }

    function _stake(address who, uint256 amount) internal {
        vm.prank(who);
        far.stake(amount);
    }

    function _deposit(address who, uint256 amount) internal {
        vm.prank(who);
        pay.deposit(amount);
    }

    function _createTask(address who, bytes32 salt, uint256 escrow) internal returns (bytes32 id) {
        vm.prank(who);
        id = pay.createTask(salt, escrow);
    }

    /// Deposits exactly the escrow and opens the task.
    function _openTask(address who, bytes32 salt, uint256 escrow) internal returns (bytes32 id) {
        _deposit(who, escrow);
        id = _createTask(who, salt, escrow);
    }

    function _complete(bytes32 id, address node, uint256 cost, uint256 score) internal {
        vm.prank(oracle);
        pay.completeTask(id, node, cost, score);
    }

    function _status(bytes32 id) internal view returns (InferencePayment.TaskStatus status) {
        (,,,, status) = pay.tasks(id);
    }

    function _salt(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("task", i));
    }

    /// The id of the task `who` opens with `_salt(i)`. Computed here rather than by calling
    /// `pay.taskIdOf`, so using it as an argument never consumes a pending prank or expectRevert.
    function _taskId(address who, uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode(who, _salt(i)));
    }

    /// Independent model of the documented split, used to check the contract's arithmetic.
    function _modelSplit(uint256 cost, uint256 score, bool anyStake)
        internal
        pure
        returns (uint256 node, uint256 stakers, uint256 treasuryPart)
    {
        node = (cost * 60 * _modelAdjustment(score)) / 10_000;
        stakers = anyStake ? (cost * 20) / 100 : 0;
        treasuryPart = cost - node - stakers;
    }

    /// Node multiplier in percent: 100 at score 80, +1 per 2 points above, -1 per 2 points below,
    /// never below 90 (the spec's stated ±10%).
    function _modelAdjustment(uint256 score) internal pure returns (uint256) {
        return score >= 80 ? 100 + (score - 80) / 2 : (score >= 60 ? 100 - (80 - score) / 2 : 90);
    }
}
