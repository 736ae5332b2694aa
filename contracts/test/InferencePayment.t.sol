// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/TestBase.sol";
import {FARToken} from "../src/FARToken.sol";
import {InferencePayment} from "../src/InferencePayment.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// Unit tests of every external function and revert path of InferencePayment.
contract InferencePaymentTest is Fixture {
    bytes32 internal constant DEFAULT_ADMIN = 0x00;
    bytes32 internal ORACLE;
    bytes32 internal NODE;
    bytes32 internal constant S1 = keccak256("t1");
    bytes32 internal constant S2 = keccak256("t2");
    bytes32 internal constant S3 = keccak256("t3");
    /// The ids of alice's tasks with S1 and S2, and of carol's with S3.
    bytes32 internal T1;
    bytes32 internal T2;
    bytes32 internal T3;

    function setUp() public override {
        super.setUp();
        ORACLE = pay.ORACLE_ROLE();
        NODE = pay.NODE_ROLE();
        T1 = pay.taskIdOf(alice, S1);
        T2 = pay.taskIdOf(alice, S2);
        T3 = pay.taskIdOf(carol, S3);
    }

    function _unauthorized(address who, bytes32 role) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, who, role);
    }

    function _notOpen(bytes32 id, InferencePayment.TaskStatus s) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(InferencePayment.TaskNotOpen.selector, id, s);
    }

    function _node(address n)
        internal
        view
        returns (address owner, uint256 earned, uint256 done, uint256 reliability, bool active, uint256 failed)
    {
        return pay.nodes(n);
    }

    function _reliability(address n) internal view returns (uint256 r) {
        (,,, r,,) = pay.nodes(n);
    }

    // ---------------------------------------------------------------- constructor & constants

    function test_Constructor_InitialState() public view {
        assertEq(address(pay.farToken()), address(far));
        assertEq(address(pay.priceFeed()), address(feed));
        assertEq(pay.treasury(), treasury);
        assertEq(pay.taskTimeout(), TIMEOUT);
        assertTrue(pay.hasRole(DEFAULT_ADMIN, admin));
        assertFalse(pay.hasRole(DEFAULT_ADMIN, address(this)));
        assertFalse(pay.hasRole(ORACLE, address(this)));
        assertEq(ORACLE, keccak256("ORACLE_ROLE"));
        assertEq(NODE, keccak256("NODE_ROLE"));
        assertEq(pay.NODE_SHARE(), 60);
        assertEq(pay.STAKER_SHARE(), 20);
        assertEq(pay.TREASURY_SHARE(), 20);
        assertEq(pay.MAX_SCORE(), 100);
        assertEq(pay.BASE_SCORE(), 80);
        assertEq(pay.INITIAL_RELIABILITY(), 80);
        assertEq(pay.MAX_TASK_TIMEOUT(), 30 days);
        assertEq(pay.totalEscrowed(), 0);
        assertEq(pay.totalUserBalances(), 0);
    }

    function test_Constructor_AnnouncesTreasuryAndTimeout() public {
        vm.expectEmit(true, true, false, true);
        emit IAccessControl.RoleGranted(DEFAULT_ADMIN, admin, address(this));
        vm.expectEmit(true, true, false, true);
        emit InferencePayment.TreasuryUpdated(address(0), treasury);
        vm.expectEmit(false, false, false, true);
        emit InferencePayment.TaskTimeoutUpdated(0, 6 hours);
        InferencePayment p = new InferencePayment(admin, address(far), treasury, address(feed), 6 hours);
        assertEq(p.taskTimeout(), 6 hours);
    }

    function test_RevertWhen_Constructor_ZeroAddresses() public {
        vm.expectRevert(InferencePayment.ZeroAddress.selector);
        new InferencePayment(address(0), address(far), treasury, address(feed), TIMEOUT);
        vm.expectRevert(InferencePayment.ZeroAddress.selector);
        new InferencePayment(admin, address(0), treasury, address(feed), TIMEOUT);
        vm.expectRevert(InferencePayment.ZeroAddress.selector);
        new InferencePayment(admin, address(far), address(0), address(feed), TIMEOUT);
        vm.expectRevert(InferencePayment.ZeroAddress.selector);
        new InferencePayment(admin, address(far), treasury, address(0), TIMEOUT);
    }

    function test_RevertWhen_Constructor_TimeoutTooLong() public {
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.TimeoutTooLong.selector, 30 days + 1));
        new InferencePayment(admin, address(far), treasury, address(feed), 30 days + 1);
    }

    // ---------------------------------------------------------------- deposit / withdraw

    function test_Deposit() public {
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(alice, address(pay), 100 ether);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.Deposited(alice, 100 ether, 100 ether);
        _deposit(alice, 100 ether);

        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.Deposited(alice, 5 ether, 105 ether);
        _deposit(alice, 5 ether);

        assertEq(pay.userBalances(alice), 105 ether);
        assertEq(pay.totalUserBalances(), 105 ether);
        assertEq(far.balanceOf(address(pay)), 105 ether);
        assertEq(far.balanceOf(alice), USER_FUNDS - 105 ether);
    }

    function test_RevertWhen_Deposit_Zero() public {
        vm.expectRevert(InferencePayment.ZeroAmount.selector);
        _deposit(alice, 0);
    }

    function test_RevertWhen_Deposit_NoAllowance() public {
        vm.prank(admin);
        far.transfer(stranger, 10 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(pay), 0, 10 ether)
        );
        _deposit(stranger, 10 ether);
    }

    function test_RevertWhen_Deposit_MoreThanBalance() public {
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, USER_FUNDS, USER_FUNDS + 1)
        );
        _deposit(alice, USER_FUNDS + 1);
    }

    function test_Withdraw() public {
        _deposit(alice, 100 ether);
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(address(pay), alice, 30 ether);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.Withdrawn(alice, 30 ether, 70 ether);
        vm.prank(alice);
        pay.withdraw(30 ether);

        assertEq(pay.userBalances(alice), 70 ether);
        assertEq(pay.totalUserBalances(), 70 ether);
        assertEq(far.balanceOf(address(pay)), 70 ether);
        assertEq(far.balanceOf(alice), USER_FUNDS - 70 ether);
    }

    function test_RevertWhen_Withdraw_Zero() public {
        vm.expectRevert(InferencePayment.ZeroAmount.selector);
        vm.prank(alice);
        pay.withdraw(0);
    }

    function test_RevertWhen_Withdraw_MoreThanBalance() public {
        _deposit(alice, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.InsufficientBalance.selector, 10 ether, 10 ether + 1));
        vm.prank(alice);
        pay.withdraw(10 ether + 1);
    }

    function test_RevertWhen_Withdraw_EscrowedFunds() public {
        _openTask(alice, S1, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.InsufficientBalance.selector, 0, 1));
        vm.prank(alice);
        pay.withdraw(1);
    }

    // ---------------------------------------------------------------- createTask

    function test_CreateTask() public {
        _deposit(alice, 100 ether);
        vm.expectEmit(true, true, false, true, address(pay));
        emit InferencePayment.TaskCreated(T1, alice, 40 ether, 60 ether);
        _createTask(alice, S1, 40 ether);

        (address user, address node, uint256 amount, uint256 ts, InferencePayment.TaskStatus status) = pay.tasks(T1);
        assertEq(user, alice);
        assertEq(node, address(0));
        assertEq(amount, 40 ether);
        assertEq(ts, block.timestamp);
        assertTrue(status == InferencePayment.TaskStatus.Created);
        assertEq(pay.userBalances(alice), 60 ether);
        assertEq(pay.totalUserBalances(), 60 ether);
        assertEq(pay.totalEscrowed(), 40 ether);
        assertEq(far.balanceOf(address(pay)), 100 ether);
    }

    function test_RevertWhen_CreateTask_Zero() public {
        _deposit(alice, 1 ether);
        vm.expectRevert(InferencePayment.ZeroAmount.selector);
        _createTask(alice, S1, 0);
    }

    function test_RevertWhen_CreateTask_InsufficientBalance() public {
        _deposit(alice, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.InsufficientBalance.selector, 1 ether, 2 ether));
        _createTask(alice, S1, 2 ether);
    }

    function test_CreateTask_IdDerivedFromCreatorAndSalt() public {
        assertEq(pay.taskIdOf(alice, S1), keccak256(abi.encode(alice, S1)));
        assertTrue(pay.taskIdOf(alice, S1) != pay.taskIdOf(bob, S1));
        assertTrue(pay.taskIdOf(alice, S1) != pay.taskIdOf(alice, S2));
        _deposit(alice, 1 ether);
        vm.expectEmit(true, true, false, true, address(pay));
        emit InferencePayment.TaskCreated(T1, alice, 1 ether, 0);
        assertEq(_createTask(alice, S1, 1 ether), T1);
    }

    function test_RevertWhen_CreateTask_SaltReused() public {
        _openTask(alice, S1, 1 ether);
        _deposit(alice, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.TaskExists.selector, T1));
        _createTask(alice, S1, 1 ether);
    }

    /// The attack of issue 11: bob sees alice's pending createTask and front-runs it with the
    /// same salt, and with her id itself as a salt, escrowing 1 wei. He only opens tasks of his
    /// own; alice's createTask still succeeds, and bob cannot touch her task.
    function test_CreateTask_FrontRunWithSameSaltCannotSquat() public {
        _deposit(bob, 2);
        bytes32 squatted = _createTask(bob, S1, 1);
        bytes32 squattedById = _createTask(bob, T1, 1);
        assertTrue(squatted != T1 && squattedById != T1, "the squatter gets ids of his own");
        (address squatUser,,,,) = pay.tasks(squatted);
        assertEq(squatUser, bob);
        assertTrue(_status(T1) == InferencePayment.TaskStatus.None, "alice's id is still free");

        _deposit(alice, 10 ether);
        vm.expectEmit(true, true, false, true, address(pay));
        emit InferencePayment.TaskCreated(T1, alice, 10 ether, 0);
        assertEq(_createTask(alice, S1, 10 ether), T1);
        (address user,, uint256 amount,,) = pay.tasks(T1);
        assertEq(user, alice);
        assertEq(amount, 10 ether);

        vm.warp(block.timestamp + TIMEOUT);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NotTaskUser.selector, T1));
        vm.prank(bob);
        pay.cancelTask(T1);
        _complete(T1, node1, 10 ether, 80);
        assertTrue(_status(T1) == InferencePayment.TaskStatus.Completed);
        assertTrue(_status(squatted) == InferencePayment.TaskStatus.Created);
    }

    /// Whatever another account opened first, with any salt, the victim's createTask succeeds
    /// with the id it computed in advance.
    function testFuzz_CreateTask_CannotBeBlocked(bytes32 salt, bytes32 squatSalt, bool squatterIsCarol) public {
        address squatter = squatterIsCarol ? carol : bob;
        _deposit(squatter, 1);
        _createTask(squatter, squatSalt, 1);
        _deposit(alice, 1 ether);
        assertEq(_createTask(alice, salt, 1 ether), pay.taskIdOf(alice, salt));
        (address user,,,,) = pay.tasks(pay.taskIdOf(alice, salt));
        assertEq(user, alice);
    }

    function test_RevertWhen_CreateTask_IdOfSettledOrCancelledTask() public {
        _openTask(alice, S1, 1 ether);
        _complete(T1, node1, 1 ether, 80);
        _openTask(alice, S2, 1 ether);
        vm.prank(oracle);
        pay.failTask(T2, node1);

        _deposit(alice, 2 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.TaskExists.selector, T1));
        _createTask(alice, S1, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.TaskExists.selector, T2));
        _createTask(alice, S2, 1 ether);
    }

    // ---------------------------------------------------------------- completeTask

    function test_CompleteTask_ExactSplitWithStakers() public {
        _stake(bob, 1000 ether);
        _openTask(alice, S1, 100 ether);
        // score 100: node 60% x 110% of 80 = 52.8, stakers 16, treasury the rest = 11.2, refund 20
        uint256 perToken = (16 ether * 1e18) / 1000 ether;

        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.NodeRatingUpdated(node1, 80, 90);
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(address(pay), node1, 52.8 ether);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(T1, alice, node1, 80 ether, 52.8 ether, 16 ether, 11.2 ether, 20 ether, 100);
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(address(pay), address(far), 16 ether);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RevenueDistributed(address(pay), 16 ether, 1000 ether, perToken);
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(address(pay), treasury, 11.2 ether);
        _complete(T1, node1, 80 ether, 100);

        assertEq(far.balanceOf(node1), 52.8 ether);
        assertEq(far.balanceOf(treasury), 11.2 ether);
        assertEq(far.undistributedRevenue(), 16 ether);
        assertEq(far.pendingRevenueShare(bob), 16 ether);
        assertEq(pay.userBalances(alice), 20 ether);
        assertEq(pay.totalUserBalances(), 20 ether);
        assertEq(pay.totalEscrowed(), 0);
        assertEq(far.balanceOf(address(pay)), 20 ether);

        (, address node,,, InferencePayment.TaskStatus status) = pay.tasks(T1);
        assertEq(node, node1);
        assertTrue(status == InferencePayment.TaskStatus.Completed);
        (address owner, uint256 earned, uint256 done, uint256 rel, bool active, uint256 failed) = _node(node1);
        assertEq(owner, nodeOwner);
        assertEq(earned, 52.8 ether);
        assertEq(done, 1);
        assertEq(rel, 90);
        assertTrue(active);
        assertEq(failed, 0);
    }

    function test_CompleteTask_NoStakersTreasuryTakesStakerShare() public {
        _openTask(alice, S1, 100 ether);
        // score 80: node exactly 60; nothing staked so the treasury takes the other 40
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(T1, alice, node1, 100 ether, 60 ether, 0, 40 ether, 0, 80);
        _complete(T1, node1, 100 ether, 80);

        assertEq(far.balanceOf(node1), 60 ether);
        assertEq(far.balanceOf(treasury), 40 ether);
        assertEq(far.balanceOf(address(far)), 0);
        assertEq(far.undistributedRevenue(), 0);
        assertEq(_reliability(node1), 80); // unchanged, so no NodeRatingUpdated
        assertEq(far.balanceOf(address(pay)), 0);
    }

    function test_CompleteTask_LowScoreAndZeroCost() public {
        _openTask(alice, S1, 10 ether);
        _openTask(alice, S2, 10 ether);
        // score 40: the node's multiplier comes from the model (80% with the spec's formula)
        uint256 nodeCut = (10 ether * 60 * _modelAdjustment(40)) / 10_000;
        _complete(T1, node1, 10 ether, 40);
        assertEq(far.balanceOf(node1), nodeCut);
        assertEq(far.balanceOf(treasury), 10 ether - nodeCut);
        assertEq(_reliability(node1), 60);

        // zero cost settles the task and refunds everything
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(T2, alice, node2, 0, 0, 0, 0, 10 ether, 80);
        _complete(T2, node2, 0, 80);
        assertEq(pay.userBalances(alice), 10 ether);
        assertEq(far.balanceOf(node2), 0);
        (,, uint256 done,,,) = _node(node2);
        assertEq(done, 1);
    }

    function test_RevertWhen_CompleteTask_NotOracle() public {
        _openTask(alice, S1, 1 ether);
        vm.expectRevert(_unauthorized(alice, ORACLE));
        vm.prank(alice);
        pay.completeTask(T1, node1, 1 ether, 80);
        vm.expectRevert(_unauthorized(admin, ORACLE));
        vm.prank(admin);
        pay.completeTask(T1, node1, 1 ether, 80);
    }

    function test_RevertWhen_CompleteTask_UnknownTask() public {
        vm.expectRevert(_notOpen(T1, InferencePayment.TaskStatus.None));
        _complete(T1, node1, 0, 80);
    }

    function test_RevertWhen_CompleteTask_AlreadyCompleted() public {
        _openTask(alice, S1, 1 ether);
        _complete(T1, node1, 1 ether, 80);
        vm.expectRevert(_notOpen(T1, InferencePayment.TaskStatus.Completed));
        _complete(T1, node1, 1 ether, 80);
    }

    function test_RevertWhen_CompleteTask_Cancelled() public {
        _openTask(alice, S1, 1 ether);
        vm.warp(block.timestamp + TIMEOUT);
        vm.prank(alice);
        pay.cancelTask(T1);
        vm.expectRevert(_notOpen(T1, InferencePayment.TaskStatus.Cancelled));
        _complete(T1, node1, 1 ether, 80);
    }

    function test_RevertWhen_CompleteTask_NodeNotRegistered() public {
        _openTask(alice, S1, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NodeNotActive.selector, stranger));
        _complete(T1, stranger, 1 ether, 80);
    }

    function test_RevertWhen_CompleteTask_NodeDeactivated() public {
        _openTask(alice, S1, 1 ether);
        vm.prank(oracle);
        pay.deactivateNode(node1);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NodeNotActive.selector, node1));
        _complete(T1, node1, 1 ether, 80);
    }

    function test_RevertWhen_CompleteTask_CostExceedsEscrow() public {
        _openTask(alice, S1, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.CostExceedsEscrow.selector, T1, 1 ether + 1, 1 ether));
        _complete(T1, node1, 1 ether + 1, 80);
    }

    function test_RevertWhen_CompleteTask_ScoreOutOfRange() public {
        _openTask(alice, S1, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.ScoreOutOfRange.selector, 101));
        _complete(T1, node1, 1 ether, 101);
    }

    function test_RevertWhen_CompleteTask_PaymentLacksRevenueRole() public {
        // a deployment that forgot to grant REVENUE_ROLE cannot settle while anyone stakes
        bytes32 revenueRole = far.REVENUE_ROLE();
        vm.prank(admin);
        far.revokeRole(revenueRole, address(pay));
        _stake(bob, 1 ether);
        _openTask(alice, S1, 10 ether);
        vm.expectRevert(_unauthorized(address(pay), revenueRole));
        _complete(T1, node1, 10 ether, 80);
    }

    // ---------------------------------------------------------------- completeTasks

    function _settlement(bytes32 id, address node, uint256 cost, uint256 score)
        internal
        pure
        returns (InferencePayment.Settlement memory)
    {
        return InferencePayment.Settlement({taskId: id, node: node, actualCost: cost, performanceScore: score});
    }

    function test_CompleteTasks_SettlesAllAndPaysOnce() public {
        _stake(bob, 100 ether);
        _openTask(alice, S1, 10 ether);
        _openTask(alice, S2, 20 ether);
        _openTask(carol, S3, 30 ether);

        InferencePayment.Settlement[] memory s = new InferencePayment.Settlement[](3);
        s[0] = _settlement(T1, node1, 10 ether, 80); // node 6, stakers 2, treasury 2
        s[1] = _settlement(T2, node2, 10 ether, 100); // node 6.6, stakers 2, treasury 1.4, refund 10
        s[2] = _settlement(T3, node1, 30 ether, 60); // node 30*.6*.9=16.2, stakers 6, treasury 7.8

        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(T1, alice, node1, 10 ether, 6 ether, 2 ether, 2 ether, 0, 80);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(T2, alice, node2, 10 ether, 6.6 ether, 2 ether, 1.4 ether, 10 ether, 100);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(T3, carol, node1, 30 ether, 16.2 ether, 6 ether, 7.8 ether, 0, 60);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RevenueDistributed(address(pay), 10 ether, 100 ether, (10 ether * 1e18) / 100 ether);
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(address(pay), treasury, 11.2 ether);
        vm.prank(oracle);
        pay.completeTasks(s);

        assertEq(far.balanceOf(node1), 22.2 ether);
        assertEq(far.balanceOf(node2), 6.6 ether);
        assertEq(far.balanceOf(treasury), 11.2 ether);
        assertEq(far.undistributedRevenue(), 10 ether);
        assertEq(pay.userBalances(alice), 10 ether);
        assertEq(pay.totalEscrowed(), 0);
        assertEq(far.balanceOf(address(pay)), 10 ether);
        assertTrue(_status(T1) == InferencePayment.TaskStatus.Completed);
        assertTrue(_status(T3) == InferencePayment.TaskStatus.Completed);
        (,, uint256 done,,,) = _node(node1);
        assertEq(done, 2);
    }

    function test_CompleteTasks_SkipsTasksNotOpen() public {
        _openTask(alice, S1, 10 ether);
        _openTask(alice, S2, 10 ether);
        _complete(T1, node1, 10 ether, 80);
        bytes32 unknown = keccak256("unknown");

        InferencePayment.Settlement[] memory s = new InferencePayment.Settlement[](4);
        s[0] = _settlement(T1, node1, 10 ether, 80); // already completed
        s[1] = _settlement(unknown, node1, 10 ether, 80); // never created
        s[2] = _settlement(T2, node2, 5 ether, 80);
        s[3] = _settlement(T2, node2, 5 ether, 80); // duplicate inside the batch

        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(T1, InferencePayment.TaskStatus.Completed);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(unknown, InferencePayment.TaskStatus.None);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(T2, alice, node2, 5 ether, 3 ether, 0, 2 ether, 5 ether, 80);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(T2, InferencePayment.TaskStatus.Completed);
        vm.prank(oracle);
        pay.completeTasks(s);

        assertEq(far.balanceOf(node1), 6 ether);
        assertEq(far.balanceOf(node2), 3 ether);
        assertEq(far.balanceOf(treasury), 4 ether + 2 ether);
        assertEq(pay.userBalances(alice), 5 ether);
    }

    function test_EmptyBatchesAreNoops() public {
        vm.recordLogs();
        vm.startPrank(oracle);
        pay.completeTasks(new InferencePayment.Settlement[](0));
        pay.failTasks(new InferencePayment.Failure[](0));
        vm.stopPrank();
        assertEq(vm.getRecordedLogs().length, 0);
    }

    function test_RevertWhen_CompleteTasks_NotOracle() public {
        InferencePayment.Settlement[] memory s = new InferencePayment.Settlement[](0);
        vm.expectRevert(_unauthorized(stranger, ORACLE));
        vm.prank(stranger);
        pay.completeTasks(s);
    }

    function test_RevertWhen_CompleteTasks_OneInvalidRevertsAll() public {
        _openTask(alice, S1, 10 ether);
        _openTask(alice, S2, 10 ether);
        InferencePayment.Settlement[] memory s = new InferencePayment.Settlement[](2);
        s[0] = _settlement(T1, node1, 10 ether, 80);
        s[1] = _settlement(T2, node1, 11 ether, 80);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.CostExceedsEscrow.selector, T2, 11 ether, 10 ether));
        vm.prank(oracle);
        pay.completeTasks(s);
        assertTrue(_status(T1) == InferencePayment.TaskStatus.Created);
        assertEq(pay.totalEscrowed(), 20 ether);

        s[1] = _settlement(T2, node1, 10 ether, 101);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.ScoreOutOfRange.selector, 101));
        vm.prank(oracle);
        pay.completeTasks(s);

        s[1] = _settlement(T2, stranger, 10 ether, 80);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NodeNotActive.selector, stranger));
        vm.prank(oracle);
        pay.completeTasks(s);
    }

    // ---------------------------------------------------------------- failTask

    function test_FailTask_RefundsEscrowInFull() public {
        _openTask(alice, S1, 10 ether);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCancelled(T1, alice, node1, 10 ether, true);
        vm.prank(oracle);
        pay.failTask(T1, node1);

        assertEq(pay.userBalances(alice), 10 ether);
        assertEq(pay.totalUserBalances(), 10 ether);
        assertEq(pay.totalEscrowed(), 0);
        (, address node,,, InferencePayment.TaskStatus status) = pay.tasks(T1);
        assertEq(node, node1);
        assertTrue(status == InferencePayment.TaskStatus.Cancelled);
        (,, uint256 done,,, uint256 failed) = _node(node1);
        assertEq(done, 0);
        assertEq(failed, 1);
    }

    function test_FailTask_BlamesDeactivatedNode() public {
        _openTask(alice, S1, 10 ether);
        vm.startPrank(oracle);
        pay.deactivateNode(node2);
        pay.failTask(T1, node2);
        vm.stopPrank();
        (,,,,, uint256 failed) = _node(node2);
        assertEq(failed, 1);
        assertEq(pay.userBalances(alice), 10 ether);
    }

    function test_RevertWhen_FailTask_NotOracle() public {
        _openTask(alice, S1, 1 ether);
        vm.expectRevert(_unauthorized(alice, ORACLE));
        vm.prank(alice);
        pay.failTask(T1, node1);
    }

    function test_RevertWhen_FailTask_UnknownNode() public {
        _openTask(alice, S1, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.UnknownNode.selector, stranger));
        vm.prank(oracle);
        pay.failTask(T1, stranger);
    }

    function test_RevertWhen_FailTask_NotOpen() public {
        vm.expectRevert(_notOpen(T1, InferencePayment.TaskStatus.None));
        vm.prank(oracle);
        pay.failTask(T1, node1);

        _openTask(alice, S1, 1 ether);
        _complete(T1, node1, 1 ether, 80);
        vm.expectRevert(_notOpen(T1, InferencePayment.TaskStatus.Completed));
        vm.prank(oracle);
        pay.failTask(T1, node1);
    }

    // ---------------------------------------------------------------- failTasks
    // (same effects as failTask one by one: Fixes.t.sol, Fix 6)

    function _failures(bytes32[] memory ids, address[] memory blamed)
        internal
        pure
        returns (InferencePayment.Failure[] memory f)
    {
        f = new InferencePayment.Failure[](ids.length);
        for (uint256 i = 0; i < ids.length; i++) {
            f[i] = InferencePayment.Failure({taskId: ids[i], node: blamed[i]});
        }
    }

    function _pair(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](2);
        (ids[0], ids[1]) = (a, b);
    }

    function _pair(address a, address b) internal pure returns (address[] memory nodes) {
        nodes = new address[](2);
        (nodes[0], nodes[1]) = (a, b);
    }

    function test_FailTasks_RefundsEachInFull() public {
        _openTask(alice, S1, 10 ether);
        _openTask(carol, S3, 30 ether);
        vm.prank(oracle);
        pay.deactivateNode(node2); // a deactivated node can be blamed, as with failTask

        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCancelled(T1, alice, node1, 10 ether, true);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCancelled(T3, carol, node2, 30 ether, true);
        vm.prank(oracle);
        pay.failTasks(_failures(_pair(T1, T3), _pair(node1, node2)));

        assertEq(pay.userBalances(alice), 10 ether);
        assertEq(pay.userBalances(carol), 30 ether);
        assertEq(pay.totalUserBalances(), 40 ether);
        assertEq(pay.totalEscrowed(), 0);
        assertEq(far.balanceOf(address(pay)), 40 ether);
        (, address blamed,,, InferencePayment.TaskStatus status) = pay.tasks(T3);
        assertEq(blamed, node2);
        assertTrue(status == InferencePayment.TaskStatus.Cancelled);
        (,,,,, uint256 failed1) = _node(node1);
        (,,,,, uint256 failed2) = _node(node2);
        assertEq(failed1, 1);
        assertEq(failed2, 1);
    }

    function test_FailTasks_SkipsTasksNotOpen() public {
        _openTask(alice, S1, 10 ether);
        _openTask(alice, S2, 10 ether);
        _openTask(carol, S3, 30 ether);
        _complete(T1, node1, 10 ether, 80);
        vm.warp(block.timestamp + TIMEOUT);
        vm.prank(alice);
        pay.cancelTask(T2);
        bytes32 unknown = keccak256("unknown");

        bytes32[] memory ids = new bytes32[](5);
        address[] memory blamed = new address[](5);
        (ids[0], blamed[0]) = (T1, node2); // already completed
        (ids[1], blamed[1]) = (T2, node2); // cancelled by its user
        (ids[2], blamed[2]) = (unknown, node2); // never created
        (ids[3], blamed[3]) = (T3, node2);
        (ids[4], blamed[4]) = (T3, node1); // duplicate inside the batch

        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(T1, InferencePayment.TaskStatus.Completed);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(T2, InferencePayment.TaskStatus.Cancelled);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(unknown, InferencePayment.TaskStatus.None);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCancelled(T3, carol, node2, 30 ether, true);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.SettlementSkipped(T3, InferencePayment.TaskStatus.Cancelled);
        vm.prank(oracle);
        pay.failTasks(_failures(ids, blamed));

        assertTrue(_status(T1) == InferencePayment.TaskStatus.Completed);
        (, address t2Node,,,) = pay.tasks(T2);
        assertEq(t2Node, address(0), "a user's cancellation keeps no node");
        assertEq(pay.userBalances(alice), 10 ether); // T2's own refund only
        assertEq(pay.userBalances(carol), 30 ether);
        (,, uint256 done1,,, uint256 failed1) = _node(node1);
        (,,,,, uint256 failed2) = _node(node2);
        assertEq(done1, 1);
        assertEq(failed1, 0, "a skipped entry blames nobody");
        assertEq(failed2, 1);
    }

    function test_FailTasks_ReplayRefundsNothing() public {
        _openTask(alice, S1, 10 ether);
        _openTask(carol, S3, 30 ether);
        InferencePayment.Failure[] memory f = _failures(_pair(T1, T3), _pair(node1, node2));
        vm.prank(oracle);
        pay.failTasks(f);
        uint256 held = far.balanceOf(address(pay));

        vm.recordLogs();
        vm.prank(oracle);
        pay.failTasks(f);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 2, "only the two SettlementSkipped events");
        for (uint256 i = 0; i < logs.length; i++) {
            assertEq(logs[i].topics[0], InferencePayment.SettlementSkipped.selector);
            assertEq(logs[i].topics[1], f[i].taskId);
        }
        assertEq(pay.userBalances(alice), 10 ether);
        assertEq(pay.userBalances(carol), 30 ether);
        assertEq(pay.totalUserBalances(), 40 ether);
        assertEq(far.balanceOf(address(pay)), held);
        (,,,,, uint256 failed1) = _node(node1);
        assertEq(failed1, 1);
    }

    function test_RevertWhen_FailTasks_NotOracle() public {
        _openTask(alice, S1, 1 ether);
        bytes32[] memory ids = new bytes32[](1);
        address[] memory blamed = new address[](1);
        (ids[0], blamed[0]) = (T1, node1);
        InferencePayment.Failure[] memory f = _failures(ids, blamed);
        vm.expectRevert(_unauthorized(alice, ORACLE));
        vm.prank(alice);
        pay.failTasks(f);
        vm.expectRevert(_unauthorized(admin, ORACLE));
        vm.prank(admin);
        pay.failTasks(f);
        vm.expectRevert(_unauthorized(node1, ORACLE));
        vm.prank(node1);
        pay.failTasks(f);
        assertTrue(_status(T1) == InferencePayment.TaskStatus.Created);
    }

    function test_RevertWhen_FailTasks_UnknownNodeRevertsAll() public {
        _openTask(alice, S1, 10 ether);
        _openTask(alice, S2, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.UnknownNode.selector, stranger));
        vm.prank(oracle);
        pay.failTasks(_failures(_pair(T1, T2), _pair(node1, stranger)));

        assertTrue(_status(T1) == InferencePayment.TaskStatus.Created, "the valid entry is rolled back");
        assertEq(pay.totalEscrowed(), 20 ether);
        assertEq(pay.userBalances(alice), 0);
        (,,,,, uint256 failed1) = _node(node1);
        assertEq(failed1, 0);
    }

    // ---------------------------------------------------------------- cancelTask

    function test_CancelTask_AfterTimeout() public {
        _openTask(alice, S1, 10 ether);
        vm.warp(block.timestamp + TIMEOUT);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCancelled(T1, alice, address(0), 10 ether, false);
        vm.prank(alice);
        pay.cancelTask(T1);

        assertEq(pay.userBalances(alice), 10 ether);
        assertEq(pay.totalEscrowed(), 0);
        assertTrue(_status(T1) == InferencePayment.TaskStatus.Cancelled);
        vm.prank(alice);
        pay.withdraw(10 ether);
        assertEq(far.balanceOf(alice), USER_FUNDS);
    }

    function test_RevertWhen_CancelTask_BeforeTimeout() public {
        _openTask(alice, S1, 10 ether);
        uint256 expiresAt = block.timestamp + TIMEOUT;
        vm.warp(expiresAt - 1);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.TaskNotExpired.selector, T1, expiresAt));
        vm.prank(alice);
        pay.cancelTask(T1);
    }

    function test_RevertWhen_CancelTask_NotTaskUser() public {
        _openTask(alice, S1, 10 ether);
        vm.warp(block.timestamp + TIMEOUT);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NotTaskUser.selector, T1));
        vm.prank(bob);
        pay.cancelTask(T1);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NotTaskUser.selector, T2));
        vm.prank(bob);
        pay.cancelTask(T2);
    }

    function test_RevertWhen_CancelTask_AlreadyClosed() public {
        _openTask(alice, S1, 10 ether);
        _complete(T1, node1, 5 ether, 80);
        vm.warp(block.timestamp + TIMEOUT);
        vm.expectRevert(_notOpen(T1, InferencePayment.TaskStatus.Completed));
        vm.prank(alice);
        pay.cancelTask(T1);

        _openTask(alice, S2, 1 ether);
        vm.warp(block.timestamp + TIMEOUT);
        vm.startPrank(alice);
        pay.cancelTask(T2);
        vm.expectRevert(_notOpen(T2, InferencePayment.TaskStatus.Cancelled));
        pay.cancelTask(T2);
        vm.stopPrank();
    }

    function test_CancelTask_UsesCurrentTimeout() public {
        _openTask(alice, S1, 1 ether);
        vm.prank(admin);
        pay.setTaskTimeout(0);
        vm.prank(alice);
        pay.cancelTask(T1);
        assertTrue(_status(T1) == InferencePayment.TaskStatus.Cancelled);
    }

    // ---------------------------------------------------------------- nodes

    function test_RegisterNode() public {
        address n = vm.addr(0x999);
        vm.expectEmit(true, true, false, true, address(pay));
        emit IAccessControl.RoleGranted(NODE, n, oracle);
        vm.expectEmit(true, true, false, true, address(pay));
        emit InferencePayment.NodeRegistered(n, nodeOwner, 80);
        vm.prank(oracle);
        pay.registerNode(n, nodeOwner);

        (address owner, uint256 earned, uint256 done, uint256 rel, bool active, uint256 failed) = _node(n);
        assertEq(owner, nodeOwner);
        assertEq(earned, 0);
        assertEq(done, 0);
        assertEq(rel, 80);
        assertTrue(active);
        assertEq(failed, 0);
        assertTrue(pay.hasRole(NODE, n));
    }

    function test_RegisterNode_ReactivationKeepsHistory() public {
        _openTask(alice, S1, 10 ether);
        _complete(T1, node1, 10 ether, 100); // reliability 90, earned 6.6
        vm.startPrank(oracle);
        pay.deactivateNode(node1);
        vm.expectEmit(true, true, false, true, address(pay));
        emit InferencePayment.NodeRegistered(node1, alice, 90);
        pay.registerNode(node1, alice);
        vm.stopPrank();

        (address owner, uint256 earned, uint256 done, uint256 rel, bool active,) = _node(node1);
        assertEq(owner, alice);
        assertEq(earned, 6.6 ether);
        assertEq(done, 1);
        assertEq(rel, 90);
        assertTrue(active);
        assertTrue(pay.hasRole(NODE, node1));
    }

    function test_RevertWhen_RegisterNode_NotOracle() public {
        vm.expectRevert(_unauthorized(admin, ORACLE));
        vm.prank(admin);
        pay.registerNode(stranger, stranger);
    }

    function test_RevertWhen_RegisterNode_ZeroAddress() public {
        vm.startPrank(oracle);
        vm.expectRevert(InferencePayment.ZeroAddress.selector);
        pay.registerNode(address(0), nodeOwner);
        vm.expectRevert(InferencePayment.ZeroAddress.selector);
        pay.registerNode(stranger, address(0));
        vm.stopPrank();
    }

    function test_RevertWhen_RegisterNode_AlreadyActive() public {
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NodeAlreadyActive.selector, node1));
        vm.prank(oracle);
        pay.registerNode(node1, nodeOwner);
    }

    function test_DeactivateNode() public {
        vm.expectEmit(true, true, false, true, address(pay));
        emit IAccessControl.RoleRevoked(NODE, node1, oracle);
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.NodeDeactivated(node1);
        vm.prank(oracle);
        pay.deactivateNode(node1);
        (address owner,,,, bool active,) = _node(node1);
        assertEq(owner, nodeOwner);
        assertFalse(active);
        assertFalse(pay.hasRole(NODE, node1));
    }

    function test_RevertWhen_DeactivateNode_NotOracle() public {
        vm.expectRevert(_unauthorized(stranger, ORACLE));
        vm.prank(stranger);
        pay.deactivateNode(node1);
    }

    function test_RevertWhen_DeactivateNode_NotActive() public {
        vm.startPrank(oracle);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NodeNotActive.selector, stranger));
        pay.deactivateNode(stranger);
        pay.deactivateNode(node1);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NodeNotActive.selector, node1));
        pay.deactivateNode(node1);
        vm.stopPrank();
    }

    function test_UpdateNodeRating() public {
        vm.expectEmit(true, false, false, true, address(pay));
        emit InferencePayment.NodeRatingUpdated(node1, 80, 35);
        vm.prank(oracle);
        pay.updateNodeRating(node1, 35);
        assertEq(_reliability(node1), 35);

        vm.prank(oracle);
        pay.updateNodeRating(node1, 100);
        assertEq(_reliability(node1), 100);
        vm.prank(oracle);
        pay.updateNodeRating(node1, 0);
        assertEq(_reliability(node1), 0);
    }

    function test_UpdateNodeRating_SameValueEmitsNothing() public {
        vm.recordLogs();
        vm.prank(oracle);
        pay.updateNodeRating(node1, 80);
        assertEq(vm.getRecordedLogs().length, 0);
    }

    function test_RevertWhen_UpdateNodeRating_NotOracle() public {
        vm.expectRevert(_unauthorized(nodeOwner, ORACLE));
        vm.prank(nodeOwner);
        pay.updateNodeRating(node1, 90);
    }

    function test_RevertWhen_UpdateNodeRating_NotActive() public {
        vm.startPrank(oracle);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NodeNotActive.selector, stranger));
        pay.updateNodeRating(stranger, 90);
        pay.deactivateNode(node1);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.NodeNotActive.selector, node1));
        pay.updateNodeRating(node1, 90);
        vm.stopPrank();
    }

    function test_RevertWhen_UpdateNodeRating_OutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.RatingOutOfRange.selector, 101));
        vm.prank(oracle);
        pay.updateNodeRating(node1, 101);
    }

    // ---------------------------------------------------------------- admin settings

    function test_SetTreasury() public {
        vm.expectEmit(true, true, false, true, address(pay));
        emit InferencePayment.TreasuryUpdated(treasury, carol);
        vm.prank(admin);
        pay.setTreasury(carol);
        assertEq(pay.treasury(), carol);

        _openTask(alice, S1, 10 ether);
        _complete(T1, node1, 10 ether, 80);
        assertEq(far.balanceOf(carol), USER_FUNDS + 4 ether);
        assertEq(far.balanceOf(treasury), 0);
    }

    function test_RevertWhen_SetTreasury_Zero() public {
        vm.expectRevert(InferencePayment.ZeroAddress.selector);
        vm.prank(admin);
        pay.setTreasury(address(0));
    }

    function test_RevertWhen_SetTreasury_NotAdmin() public {
        vm.expectRevert(_unauthorized(oracle, DEFAULT_ADMIN));
        vm.prank(oracle);
        pay.setTreasury(oracle);
    }

    function test_SetTaskTimeout() public {
        vm.expectEmit(false, false, false, true, address(pay));
        emit InferencePayment.TaskTimeoutUpdated(TIMEOUT, 30 days);
        vm.prank(admin);
        pay.setTaskTimeout(30 days);
        assertEq(pay.taskTimeout(), 30 days);
    }

    function test_RevertWhen_SetTaskTimeout_TooLong() public {
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.TimeoutTooLong.selector, 30 days + 1));
        vm.prank(admin);
        pay.setTaskTimeout(30 days + 1);
    }

    function test_RevertWhen_SetTaskTimeout_NotAdmin() public {
        vm.expectRevert(_unauthorized(stranger, DEFAULT_ADMIN));
        vm.prank(stranger);
        pay.setTaskTimeout(1);
    }

    function test_RevertWhen_GrantRole_NotAdmin() public {
        vm.expectRevert(_unauthorized(oracle, DEFAULT_ADMIN));
        vm.prank(oracle);
        pay.grantRole(ORACLE, stranger);
    }

    // ---------------------------------------------------------------- price & split

    function test_SupportsInterface() public view {
        assertTrue(pay.supportsInterface(type(IAccessControl).interfaceId));
        assertFalse(pay.supportsInterface(0xffffffff));
    }

    function test_GetLatestPrice_FollowsFeed() public {
        assertEq(pay.getLatestPrice(), PRICE);
        feed.updateAnswer(123e6);
        assertEq(pay.getLatestPrice(), int256(123e6));
    }

    function test_ComputeSplit_Examples() public view {
        (uint256 n, uint256 s, uint256 t) = pay.computeSplit(100 ether, 80, true);
        assertEq(n, 60 ether);
        assertEq(s, 20 ether);
        assertEq(t, 20 ether);
        (n, s, t) = pay.computeSplit(100 ether, 100, true);
        assertEq(n, 66 ether);
        assertEq(s, 20 ether);
        assertEq(t, 14 ether);
        (n, s, t) = pay.computeSplit(100 ether, 60, true);
        assertEq(n, 54 ether);
        assertEq(t, 26 ether);
        (n, s, t) = pay.computeSplit(100 ether, 81, false); // (81-80)/2 rounds to 0
        assertEq(n, 60 ether);
        assertEq(s, 0);
        assertEq(t, 40 ether);
        (n, s, t) = pay.computeSplit(0, 100, true);
        assertEq(n + s + t, 0);
        (n, s, t) = pay.computeSplit(1, 100, true); // dust goes to the treasury
        assertEq(n, 0);
        assertEq(s, 0);
        assertEq(t, 1);
    }

    /// Score 0 follows the split model (`_modelAdjustment`). Today that is the spec's unclamped
    /// formula, 60% x 60% = 36% for the node; with a +/-10% clamp it would be 54%.
    function test_ComputeSplit_ScoreZero_FollowsModel() public view {
        (uint256 n, uint256 s, uint256 t) = pay.computeSplit(100 ether, 0, true);
        assertEq(n, (100 ether * 60 * _modelAdjustment(0)) / 10_000);
        assertEq(s, 20 ether);
        assertEq(n + s + t, 100 ether);
    }

    function test_RevertWhen_ComputeSplit_ScoreOutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.ScoreOutOfRange.selector, 101));
        pay.computeSplit(1 ether, 101, true);
    }
}
